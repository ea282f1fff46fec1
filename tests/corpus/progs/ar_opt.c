/* ar_opt.c -- archive member referenced only weakly: must NOT be extracted. */
int optional_feature(void) { return 1234; }
