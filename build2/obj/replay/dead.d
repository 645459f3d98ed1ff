build2/obj/replay/dead.o: replay/dead.c replay/replay_int.h common/buf.h \
 replay/classify.h replay/replay.h common/hist.h wal/wal.h common/err.h \
 common/log.h
replay/replay_int.h:
common/buf.h:
replay/classify.h:
replay/replay.h:
common/hist.h:
wal/wal.h:
common/err.h:
common/log.h:
