build2/obj/replay/batch.o: replay/batch.c replay/replay_int.h \
 common/buf.h replay/classify.h replay/replay.h common/hist.h wal/wal.h \
 common/err.h common/precision.h common/xalloc.h
replay/replay_int.h:
common/buf.h:
replay/classify.h:
replay/replay.h:
common/hist.h:
wal/wal.h:
common/err.h:
common/precision.h:
common/xalloc.h:
