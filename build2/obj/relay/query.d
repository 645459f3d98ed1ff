build2/obj/relay/query.o: relay/query.c relay/relay_int.h common/buf.h \
 common/hist.h common/hostport.h relay/lineproto.h common/precision.h \
 relay/relay.h wal/wal.h /usr/share/include/llhttp/llhttp.h common/log.h \
 common/xalloc.h relay/influxql.h
relay/relay_int.h:
common/buf.h:
common/hist.h:
common/hostport.h:
relay/lineproto.h:
common/precision.h:
relay/relay.h:
wal/wal.h:
/usr/share/include/llhttp/llhttp.h:
common/log.h:
common/xalloc.h:
relay/influxql.h:
