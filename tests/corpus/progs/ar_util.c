/* ar_util.c -- plain extra object for ar_main.c. */
int util_counter = 10;
int util_twice(int x)
{
    util_counter++;
    return 2 * x;
}
