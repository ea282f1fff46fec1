/* ar_unused.c -- archive member nobody references. */
int unused_function(void) { return -1; }
char unused_blob[4096] = { 1 };
