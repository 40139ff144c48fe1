// The DataLoader's batch assembly: the batch's uint8 images gathered by dataset index and widened
// to float32 in [0, 1] in one pass (NumPy needs two: a fancy-index copy, then the division),
// parallel over samples in fixed chunks.
#include "odyssey/augment.h"
#include "sample_loop.h"

namespace odyssey {

void gather_unit_floats(const std::uint8_t* images, std::size_t image_bytes,
                        const std::int64_t* indices, std::size_t count, float* dst) {
  const auto convert = augment_kernels().bytes_to_unit_floats;
  augment_loop::for_each_sample(count, image_bytes, [&](std::size_t i) {
    convert(images + static_cast<std::size_t>(indices[i]) * image_bytes, dst + i * image_bytes,
            image_bytes);
  });
}

}  // namespace odyssey
