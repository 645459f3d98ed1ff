build2/obj/wal/apply.o: wal/apply.c wal/wal_int.h wal/wal.h common/hist.h \
 common/buf.h common/err.h common/log.h
wal/wal_int.h:
wal/wal.h:
common/hist.h:
common/buf.h:
common/err.h:
common/log.h:
