build2/obj/common/hostport.o: common/hostport.c common/hostport.h \
 common/err.h
common/hostport.h:
common/err.h:
