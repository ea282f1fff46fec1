/* weak_strong.c -- strong definitions overriding weak.c's weak ones. */
int hook(void) { return 2; }
int weak_data = 222;
