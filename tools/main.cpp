#include "harness/runtime.h"
int main() { ddb::init_runtime(2); return 0; }
