build2/obj/replay/status.o: replay/status.c replay/replay_int.h \
 common/buf.h replay/classify.h replay/replay.h common/hist.h wal/wal.h \
 replay/generation.h common/log.h
replay/replay_int.h:
common/buf.h:
replay/classify.h:
replay/replay.h:
common/hist.h:
wal/wal.h:
replay/generation.h:
common/log.h:
