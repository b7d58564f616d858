#include <gtest/gtest.h>
#include <torch/torch.h>

#include "harness/runtime.h"

int main(int argc, char** argv) {
  ddb::init_runtime(/*threads=*/2);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
