build2/obj/relay/graphite.o: relay/graphite.c relay/graphite.h \
 common/buf.h common/err.h common/xalloc.h relay/lineproto.h \
 common/precision.h relay/lpwrite.h
relay/graphite.h:
common/buf.h:
common/err.h:
common/xalloc.h:
relay/lineproto.h:
common/precision.h:
relay/lpwrite.h:
