build2/obj/relay/lpwrite.o: relay/lpwrite.c relay/lpwrite.h common/buf.h
relay/lpwrite.h:
common/buf.h:
