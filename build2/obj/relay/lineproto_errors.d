build2/obj/relay/lineproto_errors.o: relay/lineproto_errors.c \
 relay/lineproto_int.h relay/lineproto.h common/buf.h common/precision.h \
 common/err.h
relay/lineproto_int.h:
relay/lineproto.h:
common/buf.h:
common/precision.h:
common/err.h:
