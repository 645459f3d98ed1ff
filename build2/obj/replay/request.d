build2/obj/replay/request.o: replay/request.c replay/replay_int.h \
 common/buf.h replay/classify.h replay/replay.h common/hist.h wal/wal.h \
 replay/generation.h common/err.h common/xalloc.h
replay/replay_int.h:
common/buf.h:
replay/classify.h:
replay/replay.h:
common/hist.h:
wal/wal.h:
replay/generation.h:
common/err.h:
common/xalloc.h:
