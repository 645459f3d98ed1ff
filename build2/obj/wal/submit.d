build2/obj/wal/submit.o: wal/submit.c wal/wal_int.h wal/wal.h \
 common/hist.h common/buf.h common/clock.h common/err.h common/xalloc.h
wal/wal_int.h:
wal/wal.h:
common/hist.h:
common/buf.h:
common/clock.h:
common/err.h:
common/xalloc.h:
