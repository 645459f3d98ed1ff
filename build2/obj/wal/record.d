build2/obj/wal/record.o: wal/record.c wal/wal_int.h wal/wal.h \
 common/hist.h common/buf.h common/clock.h common/err.h common/name.h \
 common/xalloc.h
wal/wal_int.h:
wal/wal.h:
common/hist.h:
common/buf.h:
common/clock.h:
common/err.h:
common/name.h:
common/xalloc.h:
