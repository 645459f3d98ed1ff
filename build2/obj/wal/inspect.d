build2/obj/wal/inspect.o: wal/inspect.c wal/wal_int.h wal/wal.h \
 common/hist.h common/buf.h common/err.h
wal/wal_int.h:
wal/wal.h:
common/hist.h:
common/buf.h:
common/err.h:
