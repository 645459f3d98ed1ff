build2/obj/replay/generation.o: replay/generation.c replay/generation.h \
 common/buf.h replay/classify.h replay/replay.h common/hist.h wal/wal.h \
 common/err.h common/precision.h
replay/generation.h:
common/buf.h:
replay/classify.h:
replay/replay.h:
common/hist.h:
wal/wal.h:
common/err.h:
common/precision.h:
