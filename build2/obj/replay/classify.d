build2/obj/replay/classify.o: replay/classify.c replay/classify.h
replay/classify.h:
