build2/obj/replay/sender.o: replay/sender.c replay/replay_int.h \
 common/buf.h replay/classify.h replay/replay.h common/hist.h wal/wal.h \
 replay/generation.h common/err.h common/log.h common/xalloc.h
replay/replay_int.h:
common/buf.h:
replay/classify.h:
replay/replay.h:
common/hist.h:
wal/wal.h:
replay/generation.h:
common/err.h:
common/log.h:
common/xalloc.h:
