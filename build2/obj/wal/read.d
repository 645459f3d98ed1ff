build2/obj/wal/read.o: wal/read.c wal/wal_int.h wal/wal.h common/hist.h \
 common/buf.h common/err.h common/xalloc.h
wal/wal_int.h:
wal/wal.h:
common/hist.h:
common/buf.h:
common/err.h:
common/xalloc.h:
