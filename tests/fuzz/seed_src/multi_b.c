extern int a_table[];
int a_double(int x);
int shared_common;
int b_counter = 100;
const char b_greeting[] = "multi\n";
static int (*const ops[])(int) = {a_double, a_double};
int overridable(void) { return 50; }
int b_add(int x) { b_counter += a_table[3]; return ops[x & 1](x) + shared_common; }
