build2/obj/wal/space.o: wal/space.c wal/wal_int.h wal/wal.h common/hist.h \
 common/buf.h common/clock.h common/err.h common/log.h
wal/wal_int.h:
wal/wal.h:
common/hist.h:
common/buf.h:
common/clock.h:
common/err.h:
common/log.h:
