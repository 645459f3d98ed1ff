build2/obj/relay/promhttp.o: relay/promhttp.c relay/promwrite.h \
 common/buf.h relay/relay_int.h common/hist.h common/hostport.h \
 relay/lineproto.h common/precision.h relay/relay.h wal/wal.h \
 /usr/share/include/llhttp/llhttp.h common/err.h
relay/promwrite.h:
common/buf.h:
relay/relay_int.h:
common/hist.h:
common/hostport.h:
relay/lineproto.h:
common/precision.h:
relay/relay.h:
wal/wal.h:
/usr/share/include/llhttp/llhttp.h:
common/err.h:
