/* ar_vec.c -- archive member: vector helpers. */
long vec_dot(const long *a, const long *b, int n)
{
    long s = 0;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}
long vec_sum(const long *a, int n)
{
    long s = 0;
    for (int i = 0; i < n; i++)
        s += a[i];
    return s;
}
