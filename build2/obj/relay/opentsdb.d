build2/obj/relay/opentsdb.o: relay/opentsdb.c relay/opentsdb.h \
 common/buf.h common/err.h common/xalloc.h relay/lpwrite.h
relay/opentsdb.h:
common/buf.h:
common/err.h:
common/xalloc.h:
relay/lpwrite.h:
