build2/obj/relay/stream.o: relay/stream.c relay/stream.h common/buf.h \
 common/clock.h common/err.h common/log.h common/xalloc.h \
 relay/graphite.h relay/opentsdb.h relay/opentsdb_http.h \
 relay/relay_int.h common/hist.h common/hostport.h relay/lineproto.h \
 common/precision.h relay/relay.h wal/wal.h \
 /usr/share/include/llhttp/llhttp.h
relay/stream.h:
common/buf.h:
common/clock.h:
common/err.h:
common/log.h:
common/xalloc.h:
relay/graphite.h:
relay/opentsdb.h:
relay/opentsdb_http.h:
relay/relay_int.h:
common/hist.h:
common/hostport.h:
relay/lineproto.h:
common/precision.h:
relay/relay.h:
wal/wal.h:
/usr/share/include/llhttp/llhttp.h:
