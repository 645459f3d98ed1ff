build2/obj/replay/replay.o: replay/replay.c replay/replay_int.h \
 common/buf.h replay/classify.h replay/replay.h common/hist.h wal/wal.h \
 common/err.h common/log.h common/xalloc.h
replay/replay_int.h:
common/buf.h:
replay/classify.h:
replay/replay.h:
common/hist.h:
wal/wal.h:
common/err.h:
common/log.h:
common/xalloc.h:
