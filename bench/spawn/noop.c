/* The program every peer starts and reaps in bench_spawn: does nothing. */
int main(void)
{
	return 0;
}
