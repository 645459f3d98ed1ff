build2/obj/relay/lineproto.o: relay/lineproto.c relay/lineproto_int.h \
 relay/lineproto.h common/buf.h common/precision.h common/err.h \
 common/xalloc.h
relay/lineproto_int.h:
relay/lineproto.h:
common/buf.h:
common/precision.h:
common/err.h:
common/xalloc.h:
