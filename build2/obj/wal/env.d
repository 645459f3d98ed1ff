build2/obj/wal/env.o: wal/env.c wal/wal_int.h wal/wal.h common/hist.h \
 common/buf.h common/err.h common/log.h common/xalloc.h
wal/wal_int.h:
wal/wal.h:
common/hist.h:
common/buf.h:
common/err.h:
common/log.h:
common/xalloc.h:
