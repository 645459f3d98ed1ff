build2/obj/common/precision.o: common/precision.c common/precision.h \
 common/err.h
common/precision.h:
common/err.h:
