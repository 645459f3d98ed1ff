build2/obj/replay/opts.o: replay/opts.c replay/replay.h common/hist.h \
 common/buf.h wal/wal.h
replay/replay.h:
common/hist.h:
common/buf.h:
wal/wal.h:
