build2/obj/relay/promwrite.o: relay/promwrite.c relay/promwrite.h \
 common/buf.h common/err.h
relay/promwrite.h:
common/buf.h:
common/err.h:
