build2/obj/relay/write.o: relay/write.c relay/relay_int.h common/buf.h \
 common/hist.h common/hostport.h relay/lineproto.h common/precision.h \
 relay/relay.h wal/wal.h /usr/share/include/llhttp/llhttp.h common/err.h \
 common/log.h
relay/relay_int.h:
common/buf.h:
common/hist.h:
common/hostport.h:
relay/lineproto.h:
common/precision.h:
relay/relay.h:
wal/wal.h:
/usr/share/include/llhttp/llhttp.h:
common/err.h:
common/log.h:
