build2/obj/replay/range.o: replay/range.c replay/replay_int.h \
 common/buf.h replay/classify.h replay/replay.h common/hist.h wal/wal.h \
 common/err.h common/log.h
replay/replay_int.h:
common/buf.h:
replay/classify.h:
replay/replay.h:
common/hist.h:
wal/wal.h:
common/err.h:
common/log.h:
