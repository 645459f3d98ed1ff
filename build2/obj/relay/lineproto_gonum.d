build2/obj/relay/lineproto_gonum.o: relay/lineproto_gonum.c \
 relay/lineproto_int.h relay/lineproto.h common/buf.h common/precision.h
relay/lineproto_int.h:
relay/lineproto.h:
common/buf.h:
common/precision.h:
