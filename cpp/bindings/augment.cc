// Data augmentation kernels and the Philox generator their draws come from.
#include "odyssey/augment.h"

#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "arrays.h"
#include "bindings.h"
#include "odyssey/philox.h"

namespace odyssey::bindings {
namespace {

using Range = std::array<double, 2>;

// An int in [0, 2^bits), or TypeError/ValueError naming `name`.
std::uint64_t bounded_integer(const py::handle& object, const std::string& name, int bits) {
  if (py::isinstance<py::bool_>(object) || !py::isinstance<py::int_>(object)) {
    throw py::type_error(name + ": expected an int, got " +
                         std::string(py::str(py::type::of(object).attr("__name__"))));
  }
  const auto value = py::reinterpret_borrow<py::int_>(object);
  const py::object limit = py::int_(1).attr("__lshift__")(bits);
  if (value < py::int_(0) || value >= limit) {
    throw py::value_error(name + " must be in [0, 2**" + std::to_string(bits) + "), got " +
                          std::string(py::str(value)));
  }
  return value.cast<std::uint64_t>();
}

// The shape of a float32 NCHW batch.
BatchShape batch_of(const py::array& images, const char* op) {
  check_ndim(op, images, "images", 4, "(N, C, H, W)");
  return {static_cast<std::size_t>(images.shape(0)), static_cast<std::size_t>(images.shape(1)),
          static_cast<std::size_t>(images.shape(2)), static_cast<std::size_t>(images.shape(3))};
}

// The warps address a plane with 32-bit offsets, neighbours included.
void check_warp_size(const BatchShape& shape, const py::array& images, const char* op) {
  if ((shape.height + 4) * shape.width >= (std::size_t{1} << 31)) {
    throw py::value_error(std::string(op) + ": images of " + shape_of(images) +
                          " are too large to warp (height x width must stay below 2**31)");
  }
}

py::array_t<float> new_batch(std::size_t count, std::size_t channels, std::size_t height,
                             std::size_t width) {
  return new_array<float>(
      std::vector<py::ssize_t>{static_cast<py::ssize_t>(count), static_cast<py::ssize_t>(channels),
                               static_cast<py::ssize_t>(height), static_cast<py::ssize_t>(width)});
}

// Holds the index array of a batch's SampleDraws alive while the kernel runs.
struct Draws {
  py::array_t<std::int64_t> indices;
  SampleDraws draws;
};

Draws draws_for(const char* op, std::size_t count, const py::object& seed, const py::object& epoch,
                const py::object& indices_object, const py::object& stream) {
  const std::string prefix = std::string(op) + ": ";
  const py::array indices = array_of<std::int64_t>(op, indices_object, "indices");
  check_ndim(op, indices, "indices", 1, "");
  if (static_cast<std::size_t>(indices.shape(0)) != count) {
    throw py::value_error(prefix + "indices " + shape_of(indices) +
                          " must give one index per image (" + std::to_string(count) + " images)");
  }
  const auto* data = static_cast<const std::int64_t*>(indices.data());
  for (std::size_t i = 0; i < count; ++i) {
    if (data[i] < 0 || data[i] >= (std::int64_t{1} << 32)) {
      throw py::value_error(prefix + "indices must be in [0, 2**32), got " +
                            std::to_string(data[i]) + " at position " + std::to_string(i));
    }
  }
  Draws result{py::reinterpret_borrow<py::array_t<std::int64_t>>(indices), {}};
  result.draws.seed = bounded_integer(seed, prefix + "seed", 64);
  result.draws.epoch = static_cast<std::uint32_t>(bounded_integer(epoch, prefix + "epoch", 32));
  result.draws.stream = static_cast<std::uint32_t>(bounded_integer(stream, prefix + "stream", 32));
  result.draws.indices = data;
  return result;
}

AffineRanges affine_ranges(const Range& degrees, const Range& translate, const Range& scale,
                           const Range& squeeze, const Range& shear_x, const Range& shear_y,
                           double hflip) {
  return {{degrees[0], degrees[1]},
          translate[0],
          translate[1],
          {scale[0], scale[1]},
          {squeeze[0], squeeze[1]},
          {shear_x[0], shear_x[1]},
          {shear_y[0], shear_y[1]},
          hflip};
}

// sigma sets the length of the Gaussian's taps (6 sigma + 1) and of the blur's scratch rows.
void check_sigma(double sigma, const char* op) {
  if (!(sigma > 0.0 && sigma <= 1024.0)) {
    throw py::value_error(std::string(op) + ": sigma must be in (0, 1024], got " +
                          std::to_string(sigma));
  }
}

std::vector<float> per_channel(const std::vector<float>& values, const BatchShape& shape,
                               const char* op, const char* name) {
  if (values.size() != shape.channels) {
    throw py::value_error(std::string(op) + ": " + name + " has " + std::to_string(values.size()) +
                          " values but the images have " + std::to_string(shape.channels) +
                          " channels");
  }
  return values;
}

py::tuple philox4x32(const py::tuple& key, const py::tuple& counter) {
  if (key.size() != 2 || counter.size() != 4) {
    throw py::value_error("philox4x32: key must have 2 words and counter 4, got " +
                          std::to_string(key.size()) + " and " + std::to_string(counter.size()));
  }
  Philox4x32Key k{};
  Philox4x32Block c{};
  for (std::size_t i = 0; i < 2; ++i) {
    k.word[i] = static_cast<std::uint32_t>(bounded_integer(key[i], "philox4x32: key word", 32));
  }
  for (std::size_t i = 0; i < 4; ++i) {
    c.word[i] =
        static_cast<std::uint32_t>(bounded_integer(counter[i], "philox4x32: counter word", 32));
  }
  const Philox4x32Block out = philox4x32_10(c, k);
  return py::make_tuple(out.word[0], out.word[1], out.word[2], out.word[3]);
}

py::array affine_warp_binding(const py::object& images_object, const py::object& inverse_object,
                              float fill) {
  const py::array images = float32_array("affine_warp", images_object, "images");
  const py::array inverse = float32_array("affine_warp", inverse_object, "inverse");
  const BatchShape shape = batch_of(images, "affine_warp");
  check_warp_size(shape, images, "affine_warp");
  if (inverse.ndim() != 3 || static_cast<std::size_t>(inverse.shape(0)) != shape.count ||
      inverse.shape(1) != 2 || inverse.shape(2) != 3) {
    throw py::value_error("affine_warp: inverse must have shape (N, 2, 3) for images " +
                          shape_of(images) + ", got " + shape_of(inverse));
  }
  py::array_t<float> out = new_batch(shape.count, shape.channels, shape.height, shape.width);
  float* dst = out.mutable_data();
  py::gil_scoped_release release;
  affine_warp(floats(images), dst, shape, floats(inverse), fill);
  return out;
}

py::array random_affine_matrices_binding(const py::object& seed, const py::object& epoch,
                                         const py::object& indices, const py::object& stream,
                                         std::size_t height, std::size_t width,
                                         const Range& degrees, const Range& translate,
                                         const Range& scale, const Range& squeeze,
                                         const Range& shear_x, const Range& shear_y, double hflip) {
  const auto count = static_cast<std::size_t>(py::len(indices));
  const Draws d = draws_for("random_affine_matrices", count, seed, epoch, indices, stream);
  py::array_t<float> out = new_array<float>({static_cast<py::ssize_t>(count), 2, 3});
  random_affine_matrices(d.draws, count,
                         affine_ranges(degrees, translate, scale, squeeze, shear_x, shear_y, hflip),
                         height, width, out.mutable_data());
  return out;
}

py::array random_affine_binding(const py::object& images_object, const py::object& seed,
                                const py::object& epoch, const py::object& indices,
                                const py::object& stream, const Range& degrees,
                                const Range& translate, const Range& scale, const Range& squeeze,
                                const Range& shear_x, const Range& shear_y, double hflip,
                                float fill) {
  const py::array images = float32_array("random_affine", images_object, "images");
  const BatchShape shape = batch_of(images, "random_affine");
  check_warp_size(shape, images, "random_affine");
  const Draws d = draws_for("random_affine", shape.count, seed, epoch, indices, stream);
  const AffineRanges ranges =
      affine_ranges(degrees, translate, scale, squeeze, shear_x, shear_y, hflip);
  py::array_t<float> out = new_batch(shape.count, shape.channels, shape.height, shape.width);
  float* dst = out.mutable_data();
  py::gil_scoped_release release;
  random_affine(floats(images), dst, shape, d.draws, ranges, fill);
  return out;
}

py::array elastic_displacements_binding(const py::object& seed, const py::object& epoch,
                                        const py::object& indices, const py::object& stream,
                                        std::size_t height, std::size_t width, double alpha,
                                        double sigma) {
  check_sigma(sigma, "elastic_displacements");
  const auto count = static_cast<std::size_t>(py::len(indices));
  const Draws d = draws_for("elastic_displacements", count, seed, epoch, indices, stream);
  py::array_t<float> out = new_batch(count, 2, height, width);
  float* dst = out.mutable_data();
  py::gil_scoped_release release;
  elastic_displacements(d.draws, count, height, width, alpha, sigma, dst);
  return out;
}

py::array displacement_warp_binding(const py::object& images_object,
                                    const py::object& displacements_object, float fill) {
  const py::array images = float32_array("displacement_warp", images_object, "images");
  const py::array displacements =
      float32_array("displacement_warp", displacements_object, "displacements");
  const BatchShape shape = batch_of(images, "displacement_warp");
  check_warp_size(shape, images, "displacement_warp");
  const bool matches = displacements.ndim() == 4 &&
                       static_cast<std::size_t>(displacements.shape(0)) == shape.count &&
                       displacements.shape(1) == 2 &&
                       static_cast<std::size_t>(displacements.shape(2)) == shape.height &&
                       static_cast<std::size_t>(displacements.shape(3)) == shape.width;
  if (!matches) {
    throw py::value_error(
        "displacement_warp: displacements must have shape (N, 2, H, W) for images " +
        shape_of(images) + ", got " + shape_of(displacements));
  }
  py::array_t<float> out = new_batch(shape.count, shape.channels, shape.height, shape.width);
  float* dst = out.mutable_data();
  py::gil_scoped_release release;
  displacement_warp(floats(images), dst, shape, floats(displacements), fill);
  return out;
}

py::array elastic_distortion_binding(const py::object& images_object, const py::object& seed,
                                     const py::object& epoch, const py::object& indices,
                                     const py::object& stream, double alpha, double sigma,
                                     float fill) {
  const py::array images = float32_array("elastic_distortion", images_object, "images");
  const BatchShape shape = batch_of(images, "elastic_distortion");
  check_warp_size(shape, images, "elastic_distortion");
  check_sigma(sigma, "elastic_distortion");
  const Draws d = draws_for("elastic_distortion", shape.count, seed, epoch, indices, stream);
  py::array_t<float> out = new_batch(shape.count, shape.channels, shape.height, shape.width);
  float* dst = out.mutable_data();
  py::gil_scoped_release release;
  elastic_distortion(floats(images), dst, shape, d.draws, alpha, sigma, fill);
  return out;
}

py::array normalize_binding(const py::object& images_object, const std::vector<float>& mean_values,
                            const std::vector<float>& std_values) {
  const py::array images = float32_array("normalize", images_object, "images");
  const BatchShape shape = batch_of(images, "normalize");
  const std::vector<float> mean = per_channel(mean_values, shape, "normalize", "mean");
  const std::vector<float> std = per_channel(std_values, shape, "normalize", "std");
  py::array_t<float> out = new_batch(shape.count, shape.channels, shape.height, shape.width);
  float* dst = out.mutable_data();
  py::gil_scoped_release release;
  normalize(floats(images), dst, shape, mean.data(), std.data());
  return out;
}

py::array pad_binding(const py::object& images_object, const py::object& left_object,
                      const py::object& top_object, const py::object& right_object,
                      const py::object& bottom_object, float fill) {
  const py::array images = float32_array("pad", images_object, "images");
  const BatchShape shape = batch_of(images, "pad");
  const std::size_t left = bounded_integer(left_object, "pad: left", 31);
  const std::size_t top = bounded_integer(top_object, "pad: top", 31);
  const std::size_t right = bounded_integer(right_object, "pad: right", 31);
  const std::size_t bottom = bounded_integer(bottom_object, "pad: bottom", 31);
  const std::size_t out_height = shape.height + top + bottom,
                    out_width = shape.width + left + right;
  py::array_t<float> out = new_batch(shape.count, shape.channels, out_height, out_width);
  if (out.size() == 0) return out;  // before the per-sample offsets of a huge batch
  float* dst = out.mutable_data();
  const std::vector<std::int64_t> tops(shape.count, -static_cast<std::int64_t>(top));
  const std::vector<std::int64_t> lefts(shape.count, -static_cast<std::int64_t>(left));
  py::gil_scoped_release release;
  shifted_window(floats(images), dst, shape, out_height, out_width, tops.data(), lefts.data(),
                 fill);
  return out;
}

py::array random_crop_binding(const py::object& images_object, const py::object& seed,
                              const py::object& epoch, const py::object& indices,
                              const py::object& stream, const py::object& height_object,
                              const py::object& width_object,
                              const std::array<py::object, 4>& padding, float fill) {
  const py::array images = float32_array("random_crop", images_object, "images");
  const BatchShape shape = batch_of(images, "random_crop");
  const std::size_t height = bounded_integer(height_object, "random_crop: height", 31);
  const std::size_t width = bounded_integer(width_object, "random_crop: width", 31);
  std::size_t pad[4];  // left, top, right, bottom
  for (std::size_t i = 0; i < 4; ++i)
    pad[i] = bounded_integer(padding[i], "random_crop: padding", 31);
  const std::size_t padded_height = shape.height + pad[1] + pad[3];
  const std::size_t padded_width = shape.width + pad[0] + pad[2];
  if (height > padded_height || width > padded_width) {
    throw py::value_error("random_crop: crop size (" + std::to_string(height) + ", " +
                          std::to_string(width) + ") is larger than the padded image (" +
                          std::to_string(padded_height) + ", " + std::to_string(padded_width) +
                          ") of images " + shape_of(images));
  }
  const Draws d = draws_for("random_crop", shape.count, seed, epoch, indices, stream);
  py::array_t<float> out = new_batch(shape.count, shape.channels, height, width);
  float* dst = out.mutable_data();
  py::gil_scoped_release release;
  random_crop(floats(images), dst, shape, d.draws, height, width, pad[1], pad[0], pad[3], pad[2],
              fill);
  return out;
}

py::array random_erasing_binding(const py::object& images_object, const py::object& seed,
                                 const py::object& epoch, const py::object& indices,
                                 const py::object& stream, double p, const Range& scale,
                                 const Range& ratio, const std::vector<float>& value_list) {
  const py::array images = float32_array("random_erasing", images_object, "images");
  const BatchShape shape = batch_of(images, "random_erasing");
  const std::vector<float> value = per_channel(value_list, shape, "random_erasing", "value");
  const Draws d = draws_for("random_erasing", shape.count, seed, epoch, indices, stream);
  py::array_t<float> out = new_batch(shape.count, shape.channels, shape.height, shape.width);
  float* dst = out.mutable_data();
  py::gil_scoped_release release;
  random_erasing(floats(images), dst, shape, d.draws, p, scale.data(), ratio.data(), value.data());
  return out;
}

py::array gather_unit_floats_binding(const py::object& images_object,
                                     const py::object& indices_object) {
  constexpr const char* fn = "gather_unit_floats";
  const py::array images = array_of<std::uint8_t>(fn, images_object, "images");
  const py::array indices = array_of<std::int64_t>(fn, indices_object, "indices");
  if (images.ndim() < 1) {
    throw py::value_error(std::string(fn) + ": images must have a sample axis, got shape " +
                          shape_of(images));
  }
  check_ndim(fn, indices, "indices", 1, "");
  const auto samples = static_cast<std::int64_t>(images.shape(0));
  const auto count = static_cast<std::size_t>(indices.shape(0));
  const auto* index = static_cast<const std::int64_t*>(indices.data());
  for (std::size_t i = 0; i < count; ++i) {
    if (index[i] < 0 || index[i] >= samples) {
      throw py::index_error("gather_unit_floats: index " + std::to_string(index[i]) +
                            " at position " + std::to_string(i) + " is out of range for images " +
                            shape_of(images));
    }
  }
  std::vector<py::ssize_t> shape(images.shape(), images.shape() + images.ndim());
  shape[0] = static_cast<py::ssize_t>(count);
  py::array_t<float> out = new_array<float>(shape);
  const std::size_t image_bytes =
      samples == 0 ? 0 : length(images) / static_cast<std::size_t>(samples);
  const auto* src = static_cast<const std::uint8_t*>(images.data());
  float* dst = out.mutable_data();
  py::gil_scoped_release release;
  gather_unit_floats(src, image_bytes, index, count, dst);
  return out;
}

}  // namespace

void bind_augment(py::module_& m) {
  m.def("philox4x32", &philox4x32, py::arg("key"), py::arg("counter"),
        "Philox4x32-10 of counter (4 uint32 words) under key (2 words): 4 uint32 words.");
  m.def("gather_unit_floats", &gather_unit_floats_binding, py::arg("images"), py::arg("indices"),
        "images[indices] as float32 in [0, 1] (v / 255, as torchvision's ToTensor), in one pass.");
  m.def("affine_warp", &affine_warp_binding, py::arg("images"), py::arg("inverse"), py::kw_only(),
        py::arg("fill") = 0.0f,
        "Bilinear warp of NCHW images: output (x, y) samples the input at inverse[n] @ (x, y, 1); "
        "fill outside.");
  m.def("random_affine_matrices", &random_affine_matrices_binding, py::arg("seed"),
        py::arg("epoch"), py::arg("indices"), py::arg("stream"), py::arg("height"),
        py::arg("width"), py::kw_only(), py::arg("degrees"), py::arg("translate"), py::arg("scale"),
        py::arg("squeeze"), py::arg("shear_x"), py::arg("shear_y"), py::arg("hflip") = 0.0,
        "The (N, 2, 3) inverse maps random_affine draws for these sample keys.");
  m.def("random_affine", &random_affine_binding, py::arg("images"), py::arg("seed"),
        py::arg("epoch"), py::arg("indices"), py::arg("stream"), py::kw_only(), py::arg("degrees"),
        py::arg("translate"), py::arg("scale"), py::arg("squeeze"), py::arg("shear_x"),
        py::arg("shear_y"), py::arg("hflip") = 0.0, py::arg("fill") = 0.0f,
        "Per-sample random mirror, rotation, scale, squeeze, shear and translation with bilinear "
        "sampling.");
  m.def("elastic_displacements", &elastic_displacements_binding, py::arg("seed"), py::arg("epoch"),
        py::arg("indices"), py::arg("stream"), py::arg("height"), py::arg("width"), py::kw_only(),
        py::arg("alpha"), py::arg("sigma"),
        "The (N, 2, H, W) displacement fields (dx, dy) elastic_distortion draws.");
  m.def("displacement_warp", &displacement_warp_binding, py::arg("images"),
        py::arg("displacements"), py::kw_only(), py::arg("fill") = 0.0f,
        "Bilinear warp: output (x, y) samples the input at (x + dx, y + dy); fill outside.");
  m.def("elastic_distortion", &elastic_distortion_binding, py::arg("images"), py::arg("seed"),
        py::arg("epoch"), py::arg("indices"), py::arg("stream"), py::kw_only(), py::arg("alpha"),
        py::arg("sigma"), py::arg("fill") = 0.0f,
        "Simard et al. (2003) elastic distortion with per-sample fields.");
  m.def("normalize", &normalize_binding, py::arg("images"), py::arg("mean"), py::arg("std"),
        "(images - mean[c]) / std[c] per channel.");
  m.def("pad", &pad_binding, py::arg("images"), py::arg("left"), py::arg("top"), py::arg("right"),
        py::arg("bottom"), py::kw_only(), py::arg("fill") = 0.0f,
        "Constant padding of NCHW images.");
  m.def("random_crop", &random_crop_binding, py::arg("images"), py::arg("seed"), py::arg("epoch"),
        py::arg("indices"), py::arg("stream"), py::arg("height"), py::arg("width"), py::kw_only(),
        py::arg("padding"), py::arg("fill") = 0.0f,
        "A height x width window at a per-sample offset in the images padded by (left, top, right, "
        "bottom).");
  m.def("random_erasing", &random_erasing_binding, py::arg("images"), py::arg("seed"),
        py::arg("epoch"), py::arg("indices"), py::arg("stream"), py::kw_only(), py::arg("p"),
        py::arg("scale"), py::arg("ratio"), py::arg("value"),
        "torchvision's RandomErasing with per-sample boxes; value has one entry per channel.");
}

}  // namespace odyssey::bindings
