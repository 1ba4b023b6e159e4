// cds-distill native kernels: oneDNN convolutions and matmul, plus threaded loops for the element-wise ops,
// reductions, tiling and batch-norm a training step spends its time on. Every function reads and writes the
// Float32Arrays it is given in place (the tfjs cpu backend's tensor storage): nothing is copied across the boundary.
// All calls are synchronous. Results do not depend on the thread count: reductions split their work into a fixed
// number of chunks combined in a fixed order.
#include <napi.h>
#include <dnnl.hpp>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using dims_t = memory::dims;

namespace {

engine& eng() {
  static engine e(engine::kind::cpu, 0);
  return e;
}
stream& strm() {
  static stream s(eng());
  return s;
}

float* f32(const Napi::Value& v) {
  auto a = v.As<Napi::Float32Array>();
  return a.Data();
}
size_t f32len(const Napi::Value& v) { return v.As<Napi::Float32Array>().ElementLength(); }
std::vector<int64_t> ints(const Napi::Value& v) {
  auto a = v.As<Napi::Int32Array>();
  std::vector<int64_t> out(a.ElementLength());
  for (size_t i = 0; i < out.size(); ++i) out[i] = a[i];
  return out;
}

// ---------------------------------------------------------------- layouts
// 0: let oneDNN choose the activation layout too (format_tag::any; reorders from/to NHWC each call)
// 1: activations stay NHWC (only weights get oneDNN's layout), except convolutions with at most this many output
//    pixels, which let oneDNN choose
int g_act_layout = 1;
constexpr int64_t kBlockedMaxOutputPixels = 16;

struct Operand {
  memory::desc user;
  memory::desc prim;
  bool reorder = false;
  int slot = 0;  // which shared reorder buffer (see scratch) this operand uses: distinct within one call
  memory inner;
  primitive to_prim;    // user -> prim (inputs)
  primitive from_prim;  // prim -> user (outputs)
};

// Reorder buffers shared by every cached plan (calls are sequential; one slot per operand of a call), grown to the
// largest request: a buffer per plan held several hundred MB for resnet18 at 64 rows.
void* scratch(int slot, size_t bytes) {
  static void* buf[3] = {nullptr, nullptr, nullptr};
  static size_t cap[3] = {0, 0, 0};
  if (bytes > cap[slot]) {
    std::free(buf[slot]);
    const size_t n = (bytes + 63) / 64 * 64;
    buf[slot] = std::aligned_alloc(64, n);
    cap[slot] = buf[slot] ? n : 0;
    if (!buf[slot]) throw dnnl::error(dnnl_out_of_memory, "reorder buffer");
  }
  return buf[slot];
}

void prepare_input(Operand& op, const memory::desc& prim) {
  op.prim = prim;
  op.reorder = prim != op.user;
  if (op.reorder) {
    op.inner = memory(prim, eng(), DNNL_MEMORY_NONE);
    op.to_prim = reorder(reorder::primitive_desc(eng(), op.user, eng(), prim));
  }
}
void prepare_output(Operand& op, const memory::desc& prim) {
  op.prim = prim;
  op.reorder = prim != op.user;
  if (op.reorder) {
    op.inner = memory(prim, eng(), DNNL_MEMORY_NONE);
    op.from_prim = reorder(reorder::primitive_desc(eng(), prim, eng(), op.user));
  }
}
memory bind_input(Operand& op, float* data) {
  memory user(op.user, eng(), data);
  if (!op.reorder) return user;
  op.inner.set_data_handle(scratch(op.slot, op.prim.get_size()));
  op.to_prim.execute(strm(), {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, op.inner}});
  return op.inner;
}
memory bind_output(Operand& op, float* data) {
  if (!op.reorder) return memory(op.user, eng(), data);
  op.inner.set_data_handle(scratch(op.slot, op.prim.get_size()));
  return op.inner;
}
void finish_output(Operand& op, float* data) {
  if (!op.reorder) return;
  memory user(op.user, eng(), data);
  op.from_prim.execute(strm(), {{DNNL_ARG_FROM, op.inner}, {DNNL_ARG_TO, user}});
}

// ---------------------------------------------------------------- convolution
enum ConvKind { kForward = 0, kBackwardData = 1, kBackwardWeights = 2 };

struct ConvPlan {
  primitive prim;
  Operand a, b, out;  // forward: src, weights -> dst; bwd data: diff_dst, weights -> diff_src; bwd weights: src, diff_dst -> diff_weights
  bool has_bias = false;
  memory::desc bias;
  int arg_a = 0, arg_b = 0, arg_out = 0;
  std::string impl;  // oneDNN's implementation name, e.g. "jit_wino_4x3:avx512_core"
};

std::unordered_map<std::string, std::unique_ptr<ConvPlan>> g_conv;

algorithm act_alg(int act) {
  switch (act) {
    case 1: return algorithm::eltwise_relu;
    case 2: return algorithm::eltwise_clip;
    case 3: return algorithm::eltwise_elu;
    case 4: return algorithm::eltwise_relu;
    case 5: return algorithm::eltwise_logistic;
    default: return algorithm::undef;
  }
}
primitive_attr act_attr(int act, float alpha) {
  primitive_attr attr;
  if (act != 0) {
    post_ops po;
    float a = 0.f, b = 0.f;
    if (act == 2) { a = 0.f; b = 6.f; }
    if (act == 3) a = 1.f;
    if (act == 4) a = alpha;
    po.append_eltwise(1.f, act_alg(act), a, b);
    attr.set_post_ops(po);
  }
  return attr;
}

// dims: N IH IW IC OH OW OC KH KW SH SW DH DW PT PL PB PR G
ConvPlan& conv_plan(int kind, const std::vector<int64_t>& d, bool has_bias, int act, float alpha) {
  std::string key = std::to_string(kind) + ":" + std::to_string(g_act_layout) + ":" + std::to_string(has_bias) + ":" +
                    std::to_string(act) + ":" + std::to_string(alpha);
  for (auto v : d) key += "," + std::to_string(v);
  auto it = g_conv.find(key);
  if (it != g_conv.end()) return *it->second;

  const int64_t N = d[0], IH = d[1], IW = d[2], IC = d[3], OH = d[4], OW = d[5], OC = d[6], KH = d[7], KW = d[8];
  const int64_t G = d[17];
  dims_t strides = {d[9], d[10]}, dil = {d[11] - 1, d[12] - 1}, pl = {d[13], d[14]}, pr = {d[15], d[16]};
  const auto dt = memory::data_type::f32;
  // tfjs layouts: activations NHWC; filters [KH, KW, IC, OC] (depthwise: [KH, KW, C, M], output channel c*M + m).
  memory::desc src_user({N, IC, IH, IW}, dt, dims_t{IH * IW * IC, 1, IW * IC, IC});
  memory::desc dst_user({N, OC, OH, OW}, dt, dims_t{OH * OW * OC, 1, OW * OC, OC});
  memory::desc w_user;
  dims_t w_dims;
  if (G == 1) {
    w_dims = {OC, IC, KH, KW};
    w_user = memory::desc(w_dims, dt, dims_t{1, OC, KW * IC * OC, IC * OC});
  } else {
    const int64_t ocg = OC / G, icg = IC / G;
    w_dims = {G, ocg, icg, KH, KW};
    // For depthwise (icg == 1) the filter [KH, KW, C, M] has strides: g -> M, o -> 1, i -> C*M, h -> KW*C*M, w -> C*M.
    w_user = memory::desc(w_dims, dt, dims_t{ocg, 1, G * ocg, KW * icg * G * ocg, icg * G * ocg});
  }
  // Small outputs (deep stages: resnet18's 4x4x512) run about twice as fast in oneDNN's blocked activation layout,
  // reorders included (measured on avx512_core, forward and backward-data, 64 and 128 rows); larger ones are as fast
  // or faster in NHWC without the reorders.
  // 3x3 stride-1 convolutions with 32+ channels each side: oneDNN's Winograd F(4x4, 3x3) (convolution_auto picks it,
  // in its blocked layout) takes 1.3-2x less CPU time than the direct algorithm for forward and backward-data, and up
  // to 1.8x for backward-weights (measured at 64 rows: 32x32x64 fwd 20.1 -> 14.7 ms, 8x8x256 fwd 17.5 -> 8.8 ms);
  // with 16 channels it was slower, so those stay direct.
  const bool wino = G == 1 && KH == 3 && KW == 3 && d[9] == 1 && d[10] == 1 && d[11] == 1 && d[12] == 1 && IC >= 32 && OC >= 32;
  const algorithm alg = wino ? algorithm::convolution_auto : algorithm::convolution_direct;
  const bool blocked = g_act_layout == 0 || wino || (G == 1 && OH * OW <= kBlockedMaxOutputPixels);
  memory::desc src_any = blocked ? memory::desc({N, IC, IH, IW}, dt, memory::format_tag::any) : src_user;
  memory::desc dst_any = blocked ? memory::desc({N, OC, OH, OW}, dt, memory::format_tag::any) : dst_user;
  memory::desc w_any(w_dims, dt, memory::format_tag::any);
  memory::desc b_md({OC}, dt, memory::format_tag::x);

  auto plan = std::make_unique<ConvPlan>();
  plan->b.slot = 1;
  plan->out.slot = 2;
  auto fwd_desc = has_bias ? convolution_forward::desc(prop_kind::forward_training, alg, src_any,
                                                       w_any, b_md, dst_any, strides, dil, pl, pr)
                           : convolution_forward::desc(prop_kind::forward_training, alg, src_any,
                                                       w_any, dst_any, strides, dil, pl, pr);
  auto fwd_pd = convolution_forward::primitive_desc(fwd_desc, act_attr(act, alpha), eng());
  if (kind == kForward) {
    plan->a.user = src_user;
    plan->b.user = w_user;
    plan->out.user = dst_user;
    prepare_input(plan->a, fwd_pd.src_desc());
    prepare_input(plan->b, fwd_pd.weights_desc());
    prepare_output(plan->out, fwd_pd.dst_desc());
    plan->prim = convolution_forward(fwd_pd);
    plan->impl = fwd_pd.impl_info_str();
    plan->arg_a = DNNL_ARG_SRC;
    plan->arg_b = DNNL_ARG_WEIGHTS;
    plan->arg_out = DNNL_ARG_DST;
    plan->has_bias = has_bias;
    plan->bias = b_md;
  } else if (kind == kBackwardData) {
    auto bd = convolution_backward_data::desc(alg, src_any, w_any, dst_any, strides, dil, pl, pr);
    auto pd = convolution_backward_data::primitive_desc(bd, eng(), fwd_pd);
    plan->a.user = dst_user;
    plan->b.user = w_user;
    plan->out.user = src_user;
    prepare_input(plan->a, pd.diff_dst_desc());
    prepare_input(plan->b, pd.weights_desc());
    prepare_output(plan->out, pd.diff_src_desc());
    plan->prim = convolution_backward_data(pd);
    plan->impl = pd.impl_info_str();
    plan->arg_a = DNNL_ARG_DIFF_DST;
    plan->arg_b = DNNL_ARG_WEIGHTS;
    plan->arg_out = DNNL_ARG_DIFF_SRC;
  } else {
    auto bw = convolution_backward_weights::desc(alg, src_any, w_any, dst_any, strides, dil, pl, pr);
    auto pd = convolution_backward_weights::primitive_desc(bw, eng(), fwd_pd);
    plan->a.user = src_user;
    plan->b.user = dst_user;
    plan->out.user = w_user;
    prepare_input(plan->a, pd.src_desc());
    prepare_input(plan->b, pd.diff_dst_desc());
    prepare_output(plan->out, pd.diff_weights_desc());
    plan->prim = convolution_backward_weights(pd);
    plan->impl = pd.impl_info_str();
    plan->arg_a = DNNL_ARG_SRC;
    plan->arg_b = DNNL_ARG_DIFF_DST;
    plan->arg_out = DNNL_ARG_DIFF_WEIGHTS;
  }
  auto& ref = *plan;
  g_conv.emplace(key, std::move(plan));
  return ref;
}

Napi::Value Throw(Napi::Env env, const std::string& msg) {
  Napi::Error::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

// conv(kind, a, b, out, bias | null, dims Int32Array(18), act, alpha)
Napi::Value Conv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    int kind = info[0].As<Napi::Number>().Int32Value();
    auto d = ints(info[5]);
    bool has_bias = kind == kForward && info[4].IsTypedArray();
    int act = info[6].As<Napi::Number>().Int32Value();
    float alpha = info[7].As<Napi::Number>().FloatValue();
    ConvPlan& p = conv_plan(kind, d, has_bias, act, alpha);
    float* out = f32(info[3]);
    std::unordered_map<int, memory> args;
    args[p.arg_a] = bind_input(p.a, f32(info[1]));
    args[p.arg_b] = bind_input(p.b, f32(info[2]));
    args[p.arg_out] = bind_output(p.out, out);
    if (p.has_bias) args[DNNL_ARG_BIAS] = memory(p.bias, eng(), f32(info[4]));
    p.prim.execute(strm(), args);
    finish_output(p.out, out);
    strm().wait();
  } catch (const dnnl::error& e) {
    return Throw(env, std::string("oneDNN convolution: ") + e.what());
  }
  return env.Undefined();
}

// ---------------------------------------------------------------- matmul
struct MatmulPlan {
  matmul prim;
  memory::desc a, b, c, bias;
  bool has_bias = false;
};
std::unordered_map<std::string, std::unique_ptr<MatmulPlan>> g_matmul;

// matmul(a, b, out, bias | null, dims Int32Array [batchA, batchB, M, K, N, transA, transB], act, alpha)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    auto d = ints(info[4]);
    bool has_bias = info[3].IsTypedArray();
    int act = info[5].As<Napi::Number>().Int32Value();
    float alpha = info[6].As<Napi::Number>().FloatValue();
    std::string key = std::to_string(has_bias) + ":" + std::to_string(act) + ":" + std::to_string(alpha);
    for (auto v : d) key += "," + std::to_string(v);
    auto it = g_matmul.find(key);
    MatmulPlan* p;
    if (it != g_matmul.end()) {
      p = it->second.get();
    } else {
      const int64_t bA = d[0], bB = d[1], M = d[2], K = d[3], N = d[4];
      const bool tA = d[5] != 0, tB = d[6] != 0;
      const auto dt = memory::data_type::f32;
      auto plan = std::make_unique<MatmulPlan>();
      plan->a = memory::desc({bA, M, K}, dt, tA ? dims_t{M * K, 1, M} : dims_t{M * K, K, 1});
      plan->b = memory::desc({bB, K, N}, dt, tB ? dims_t{K * N, 1, K} : dims_t{K * N, N, 1});
      const int64_t B = std::max(bA, bB);
      plan->c = memory::desc({B, M, N}, dt, dims_t{M * N, N, 1});
      plan->has_bias = has_bias;
      plan->bias = memory::desc({1, 1, N}, dt, dims_t{N, N, 1});
      auto md = has_bias ? matmul::desc(plan->a, plan->b, plan->bias, plan->c) : matmul::desc(plan->a, plan->b, plan->c);
      plan->prim = matmul(matmul::primitive_desc(md, act_attr(act, alpha), eng()));
      p = plan.get();
      g_matmul.emplace(key, std::move(plan));
    }
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(p->a, eng(), f32(info[0]))},
                                         {DNNL_ARG_WEIGHTS, memory(p->b, eng(), f32(info[1]))},
                                         {DNNL_ARG_DST, memory(p->c, eng(), f32(info[2]))}};
    if (p->has_bias) args[DNNL_ARG_BIAS] = memory(p->bias, eng(), f32(info[3]));
    p->prim.execute(strm(), args);
    strm().wait();
  } catch (const dnnl::error& e) {
    return Throw(env, std::string("oneDNN matmul: ") + e.what());
  }
  return env.Undefined();
}

// ---------------------------------------------------------------- element-wise
// Below this many elements a loop runs on the calling thread: waking the pool costs more than it saves.
constexpr int64_t kGrain = 1 << 16;

template <typename F>
inline void binary_loop(F f, const float* a, const float* b, float* o, const std::vector<int64_t>& shape,
                        const std::vector<int64_t>& as, const std::vector<int64_t>& bs) {
  const int r = static_cast<int>(shape.size());
  const int64_t inner = shape[r - 1], ia = as[r - 1], ib = bs[r - 1];
  if (r == 1) {
    const int64_t chunks = (inner + kGrain - 1) / kGrain;
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t lo = c * kGrain, hi = std::min(inner, lo + kGrain);
      for (int64_t i = lo; i < hi; ++i) o[i] = f(a[i * ia], b[i * ib]);
    }
    return;
  }
  int64_t outer = 1;
  for (int k = 0; k < r - 1; ++k) outer *= shape[k];
#pragma omp parallel for schedule(static) if (outer * inner > kGrain)
  for (int64_t q = 0; q < outer; ++q) {
    int64_t rem = q, oa = 0, ob = 0;
    for (int k = r - 2; k >= 0; --k) {
      const int64_t idx = rem % shape[k];
      rem /= shape[k];
      oa += idx * as[k];
      ob += idx * bs[k];
    }
    const float* pa = a + oa;
    const float* pb = b + ob;
    float* po = o + q * inner;
    if (ia == 1 && ib == 1) {
      for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i], pb[i]);
    } else if (ia == 1 && ib == 0) {
      const float vb = pb[0];
      for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i], vb);
    } else if (ia == 0 && ib == 1) {
      const float va = pa[0];
      for (int64_t i = 0; i < inner; ++i) po[i] = f(va, pb[i]);
    } else {
      for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i * ia], pb[i * ib]);
    }
  }
}

// binary(op, a, b, out, shape, aStrides, bStrides): out[idx] = op(a[idx . aStrides], b[idx . bStrides]), out dense.
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const int op = info[0].As<Napi::Number>().Int32Value();
  const float* a = f32(info[1]);
  const float* b = f32(info[2]);
  float* o = f32(info[3]);
  auto shape = ints(info[4]), as = ints(info[5]), bs = ints(info[6]);
  switch (op) {
    case 0: binary_loop([](float x, float y) { return x + y; }, a, b, o, shape, as, bs); break;
    case 1: binary_loop([](float x, float y) { return x - y; }, a, b, o, shape, as, bs); break;
    case 2: binary_loop([](float x, float y) { return x * y; }, a, b, o, shape, as, bs); break;
    case 3: binary_loop([](float x, float y) { return x / y; }, a, b, o, shape, as, bs); break;
    case 4: binary_loop([](float x, float y) { return (std::isnan(x) || std::isnan(y)) ? NAN : std::max(x, y); }, a, b, o, shape, as, bs); break;
    case 5: binary_loop([](float x, float y) { return (std::isnan(x) || std::isnan(y)) ? NAN : std::min(x, y); }, a, b, o, shape, as, bs); break;
    case 6: binary_loop([](float x, float y) { return (x - y) * (x - y); }, a, b, o, shape, as, bs); break;
    case 7: binary_loop([](float dy, float x) { return x > 0.f ? dy : (std::isnan(x) ? x : 0.f); }, a, b, o, shape, as, bs); break;  // ReLU gradient
    case 8: binary_loop([](float dy, float x) { return dy * (x * 2.f); }, a, b, o, shape, as, bs); break;  // Square gradient
    default: break;
  }
  return info.Env().Undefined();
}

template <typename F>
inline void unary_loop(F f, const float* x, float* o, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kGrain)
  for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
}

// unary(op, x, out, alpha)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const int op = info[0].As<Napi::Number>().Int32Value();
  const float* x = f32(info[1]);
  float* o = f32(info[2]);
  const int64_t n = static_cast<int64_t>(f32len(info[2]));
  const float alpha = info[3].As<Napi::Number>().FloatValue();
  switch (op) {
    case 0: unary_loop([](float v) { return v < 0.f ? 0.f : v; }, x, o, n); break;  // Relu (NaN passes)
    case 1: unary_loop([](float v) { return v < 0.f ? 0.f : (v > 6.f ? 6.f : v); }, x, o, n); break;  // Relu6
    case 2: unary_loop([alpha](float v) { return std::isnan(v) ? v : (v > 0.f ? 1.f : alpha); }, x, o, n); break;  // Step
    case 3: unary_loop([](float v) { return -v; }, x, o, n); break;
    case 4: unary_loop([](float v) { return std::exp(v); }, x, o, n); break;
    case 5: unary_loop([](float v) { return std::log(v); }, x, o, n); break;
    case 6: unary_loop([](float v) { return std::sqrt(v); }, x, o, n); break;
    case 7: unary_loop([](float v) { return 1.f / std::sqrt(v); }, x, o, n); break;
    case 8: unary_loop([](float v) { return v * v; }, x, o, n); break;
    case 9: unary_loop([](float v) { return std::fabs(v); }, x, o, n); break;
    case 10: unary_loop([](float v) { return 1.f / (1.f + std::exp(-v)); }, x, o, n); break;
    case 11: unary_loop([](float v) { return std::tanh(v); }, x, o, n); break;
    case 12: unary_loop([](float v) { return 1.f / v; }, x, o, n); break;
    case 13: unary_loop([alpha](float v) { return v * alpha; }, x, o, n); break;  // scale (Mean, constants)
    default: break;
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- reductions
// reduce(op, x, out, A, R, B): out[a, b] = op over r of x[a, r, b]. op 0 sum, 1 max, 2 min, 3 mean.
// R is cut into a fixed number of chunks (independent of the thread count) whose partials are combined in order.
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  const int op = info[0].As<Napi::Number>().Int32Value();
  const float* x = f32(info[1]);
  float* o = f32(info[2]);
  const int64_t A = info[3].As<Napi::Number>().Int64Value(), R = info[4].As<Napi::Number>().Int64Value(),
                B = info[5].As<Napi::Number>().Int64Value();
  const bool is_sum = op == 0 || op == 3;
  const double init = op == 1 ? -INFINITY : (op == 2 ? INFINITY : 0.0);
  auto comb = [op](double acc, double v) {
    if (op == 0 || op == 3) return acc + v;
    if (std::isnan(v) || std::isnan(acc)) return static_cast<double>(NAN);
    return op == 1 ? std::max(acc, v) : std::min(acc, v);
  };
  const double scale = op == 3 ? 1.0 / static_cast<double>(R) : 1.0;
  if (B == 1) {
    // rows: each output sums a contiguous run of R values
#pragma omp parallel for schedule(static) if (A * R > kGrain)
    for (int64_t a = 0; a < A; ++a) {
      const float* p = x + a * R;
      double acc = init;
      if (is_sum) {
        for (int64_t r = 0; r < R; ++r) acc += p[r];
      } else {
        for (int64_t r = 0; r < R; ++r) acc = comb(acc, p[r]);
      }
      o[a] = static_cast<float>(acc * scale);
    }
    return info.Env().Undefined();
  }
  // columns: chunk R, partial vectors of B per chunk
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(32, (R * B) / kGrain));
  const int64_t step = (R + chunks - 1) / chunks;
  std::vector<double> part(static_cast<size_t>(A * chunks * B), init);
#pragma omp parallel for schedule(static) collapse(2) if (A * R * B > kGrain)
  for (int64_t a = 0; a < A; ++a) {
    for (int64_t c = 0; c < chunks; ++c) {
      double* acc = part.data() + (a * chunks + c) * B;
      const int64_t lo = c * step, hi = std::min(R, lo + step);
      for (int64_t r = lo; r < hi; ++r) {
        const float* p = x + (a * R + r) * B;
        if (is_sum) {
          for (int64_t b = 0; b < B; ++b) acc[b] += p[b];
        } else {
          for (int64_t b = 0; b < B; ++b) acc[b] = comb(acc[b], p[b]);
        }
      }
    }
  }
  for (int64_t a = 0; a < A; ++a) {
    for (int64_t b = 0; b < B; ++b) {
      double acc = init;
      for (int64_t c = 0; c < chunks; ++c) acc = comb(acc, part[(a * chunks + c) * B + b]);
      o[a * B + b] = static_cast<float>(acc * scale);
    }
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- tile
// tile(x, out, inShape, outShape): out[idx] = x[idx mod inShape]
Napi::Value Tile(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* o = f32(info[1]);
  auto ins = ints(info[2]), outs = ints(info[3]);
  const int r = static_cast<int>(outs.size());
  std::vector<int64_t> istr(r, 1);
  for (int k = r - 2; k >= 0; --k) istr[k] = istr[k + 1] * ins[k + 1];
  const int64_t inner = outs[r - 1], in_inner = ins[r - 1];
  int64_t outer = 1;
  for (int k = 0; k < r - 1; ++k) outer *= outs[k];
#pragma omp parallel for schedule(static) if (outer * inner > kGrain)
  for (int64_t q = 0; q < outer; ++q) {
    int64_t rem = q, off = 0;
    for (int k = r - 2; k >= 0; --k) {
      const int64_t idx = rem % outs[k];
      rem /= outs[k];
      off += (idx % ins[k]) * istr[k];
    }
    const float* p = x + off;
    float* po = o + q * inner;
    if (in_inner == inner) {
      std::memcpy(po, p, sizeof(float) * inner);
    } else {
      for (int64_t i = 0; i < inner; ++i) po[i] = p[i % in_inner];
    }
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- batch norm (inference form, as tfjs' kernel)
// batchNorm(x, mean, variance, offset | null, scale | null, out, eps): parameters indexed modulo their length.
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* mean = f32(info[1]);
  const float* var = f32(info[2]);
  const bool has_off = info[3].IsTypedArray(), has_scale = info[4].IsTypedArray();
  const float* off = has_off ? f32(info[3]) : nullptr;
  const float* sc = has_scale ? f32(info[4]) : nullptr;
  float* o = f32(info[5]);
  const float eps = info[6].As<Napi::Number>().FloatValue();
  const int64_t n = static_cast<int64_t>(f32len(info[5]));
  const int64_t lm = f32len(info[1]), lv = f32len(info[2]), lo = has_off ? f32len(info[3]) : 1,
                ls = has_scale ? f32len(info[4]) : 1;
  const int64_t C = std::max(std::max(lm, lv), std::max(lo, ls));
  const bool rows = n % C == 0 && (lm == 1 || lm == C) && (lv == 1 || lv == C) && (lo == 1 || lo == C) && (ls == 1 || ls == C);
  if (rows) {
    std::vector<float> mul(C), add(C), mu(C);
    for (int64_t c = 0; c < C; ++c) {
      const float s = has_scale ? sc[ls == 1 ? 0 : c] : 1.f;
      mul[c] = s / std::sqrt(var[lv == 1 ? 0 : c] + eps);
      mu[c] = mean[lm == 1 ? 0 : c];
      add[c] = has_off ? off[lo == 1 ? 0 : c] : 0.f;
    }
    const int64_t outer = n / C;
#pragma omp parallel for schedule(static) if (n > kGrain)
    for (int64_t q = 0; q < outer; ++q) {
      const float* px = x + q * C;
      float* po = o + q * C;
      for (int64_t c = 0; c < C; ++c) po[c] = (px[c] - mu[c]) * mul[c] + add[c];
    }
  } else {
#pragma omp parallel for schedule(static) if (n > kGrain)
    for (int64_t i = 0; i < n; ++i) {
      const float s = has_scale ? sc[i % ls] : 1.f;
      const float b = has_off ? off[i % lo] : 0.f;
      o[i] = (x[i] - mean[i % lm]) * s / std::sqrt(var[i % lv] + eps) + b;
    }
  }
  return info.Env().Undefined();
}

// Per-channel sums of x [R, C] (channels last) over rows, in double, cut into a fixed number of row chunks (not the
// thread count) combined in order: the result does not depend on the threads.
int64_t row_chunks(int64_t n) { return std::max<int64_t>(1, std::min<int64_t>(32, n / kGrain)); }

// The two reductions of a batch-norm gradient: per channel, sum(dy) and sum(dy * (x - mean)) over the R rows of x and
// dy [R, C], in double, over row_chunks(n) chunks combined in order. Returns [sum dy (C values), sum dy (x - mean) (C)].
std::vector<double> channel_dy_sums(const float* x, const float* dy, const float* mean, int64_t R, int64_t C) {
  const int64_t n = R * C;
  const int64_t chunks = row_chunks(n);
  const int64_t step = (R + chunks - 1) / chunks;
  std::vector<double> part(static_cast<size_t>(chunks * C * 2), 0.0);
#pragma omp parallel for schedule(static) if (n > kGrain)
  for (int64_t c = 0; c < chunks; ++c) {
    double* sdy = part.data() + c * C * 2;
    double* sdyx = sdy + C;
    const int64_t lo = c * step, hi = std::min(R, lo + step);
    for (int64_t r = lo; r < hi; ++r) {
      const float* px = x + r * C;
      const float* pd = dy + r * C;
      for (int64_t k = 0; k < C; ++k) {
        sdy[k] += pd[k];
        sdyx[k] += static_cast<double>(pd[k]) * (px[k] - mean[k]);
      }
    }
  }
  std::vector<double> sums(static_cast<size_t>(2 * C), 0.0);
  for (int64_t k = 0; k < C; ++k) {
    for (int64_t c = 0; c < chunks; ++c) {
      sums[k] += part[c * C * 2 + k];
      sums[C + k] += part[c * C * 2 + C + k];
    }
  }
  return sums;
}

// batchNormGrad(x, mean, variance, scale | null, dy, eps, dx, dmean, dvariance, dscale, doffset): the gradients of
// tfjs' FusedBatchNorm (inference form, mean/variance/scale per channel, channels last) in two passes instead of
// tfjs' dozen element-wise ops: one chunked reduction of sum(dy) and sum(dy * (x - mean)), one pass for dx.
Napi::Value BatchNormGrad(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* mean = f32(info[1]);
  const float* var = f32(info[2]);
  const bool has_scale = info[3].IsTypedArray();
  const float* sc = has_scale ? f32(info[3]) : nullptr;
  const float* dy = f32(info[4]);
  const float eps = info[5].As<Napi::Number>().FloatValue();
  float* dx = f32(info[6]);
  float* dmean = f32(info[7]);
  float* dvar = f32(info[8]);
  float* dscale = f32(info[9]);
  float* doff = f32(info[10]);
  const int64_t C = static_cast<int64_t>(f32len(info[1]));
  const int64_t n = static_cast<int64_t>(f32len(info[0]));
  const int64_t R = n / C;
  std::vector<double> sums = channel_dy_sums(x, dy, mean, R, C);
  std::vector<float> mul(C);
  for (int64_t k = 0; k < C; ++k) {
    const double sdy = sums[k], sdyx = sums[C + k];
    const double r = 1.0 / std::sqrt(static_cast<double>(static_cast<float>(var[k] + eps)));
    const double s = has_scale ? sc[k] : 1.0;
    doff[k] = static_cast<float>(sdy);
    dscale[k] = static_cast<float>(r * sdyx);
    dmean[k] = static_cast<float>(-r * s * sdy);
    dvar[k] = static_cast<float>(-0.5 * r * r * r * s * sdyx);
    mul[k] = static_cast<float>(r * s);
  }
#pragma omp parallel for schedule(static) if (n > kGrain)
  for (int64_t r = 0; r < R; ++r) {
    const float* pd = dy + r * C;
    float* po = dx + r * C;
    for (int64_t k = 0; k < C; ++k) po[k] = pd[k] * mul[k];
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- batch norm, training mode (fused)

// bnTrain(x, scale | null, offset | null, y, mean, variance, eps): the batch statistics of x [R, C] per channel
// (mean, biased variance: what tf.moments gives) and y = (x - mean) * scale / sqrt(variance + eps) + offset, in three
// passes over x (sum, squared deviations, normalise) where tfjs runs Mean, Sub, Square, Mean and FusedBatchNorm.
Napi::Value BnTrain(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const bool has_scale = info[1].IsTypedArray(), has_off = info[2].IsTypedArray();
  const float* sc = has_scale ? f32(info[1]) : nullptr;
  const float* off = has_off ? f32(info[2]) : nullptr;
  float* y = f32(info[3]);
  float* mean = f32(info[4]);
  float* var = f32(info[5]);
  const float eps = info[6].As<Napi::Number>().FloatValue();
  const int64_t C = static_cast<int64_t>(f32len(info[4]));
  const int64_t n = static_cast<int64_t>(f32len(info[0]));
  const int64_t R = n / C;
  const int64_t chunks = row_chunks(n);
  const int64_t step = (R + chunks - 1) / chunks;
  std::vector<double> part(static_cast<size_t>(chunks * C), 0.0);
  std::vector<double> mu(C);
  // pass 1: sums
#pragma omp parallel for schedule(static) if (n > kGrain)
  for (int64_t c = 0; c < chunks; ++c) {
    double* acc = part.data() + c * C;
    const int64_t lo = c * step, hi = std::min(R, lo + step);
    for (int64_t r = lo; r < hi; ++r) {
      const float* px = x + r * C;
      for (int64_t k = 0; k < C; ++k) acc[k] += px[k];
    }
  }
  for (int64_t k = 0; k < C; ++k) {
    double s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += part[c * C + k];
    mu[k] = s / static_cast<double>(R);
    mean[k] = static_cast<float>(mu[k]);
  }
  // pass 2: squared deviations from the mean (two passes: no cancellation when the mean is large)
  std::fill(part.begin(), part.end(), 0.0);
#pragma omp parallel for schedule(static) if (n > kGrain)
  for (int64_t c = 0; c < chunks; ++c) {
    double* acc = part.data() + c * C;
    const int64_t lo = c * step, hi = std::min(R, lo + step);
    for (int64_t r = lo; r < hi; ++r) {
      const float* px = x + r * C;
      for (int64_t k = 0; k < C; ++k) {
        const double d = px[k] - mu[k];
        acc[k] += d * d;
      }
    }
  }
  std::vector<float> mul(C), add(C), m32(C);
  for (int64_t k = 0; k < C; ++k) {
    double s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += part[c * C + k];
    var[k] = static_cast<float>(s / static_cast<double>(R));
    // As the FusedBatchNorm kernel: float32 mean and variance, scale / sqrt(variance + eps).
    m32[k] = mean[k];
    mul[k] = (has_scale ? sc[k] : 1.f) / std::sqrt(var[k] + eps);
    add[k] = has_off ? off[k] : 0.f;
  }
  // pass 3: normalise
#pragma omp parallel for schedule(static) if (n > kGrain)
  for (int64_t r = 0; r < R; ++r) {
    const float* px = x + r * C;
    float* py = y + r * C;
    for (int64_t k = 0; k < C; ++k) py[k] = (px[k] - m32[k]) * mul[k] + add[k];
  }
  return info.Env().Undefined();
}

// bnTrainGrad(x, scale | null, mean, variance, dy, dmean | null, dvariance | null, eps, dx, dscale, doffset): the
// gradients of bnTrain's three outputs (y, mean, variance) back to x, scale and offset, in two passes over x and dy:
//   doffset = sum dy, dscale = r sum dy (x - mean), r = 1 / sqrt(variance + eps), R rows,
//   dx = s r dy - s r doffset / R - s r^3 (x - mean) sum(dy (x - mean)) / R + dmean / R + 2 dvariance (x - mean) / R.
Napi::Value BnTrainGrad(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const bool has_scale = info[1].IsTypedArray();
  const float* sc = has_scale ? f32(info[1]) : nullptr;
  const float* mean = f32(info[2]);
  const float* var = f32(info[3]);
  const float* dy = f32(info[4]);
  const float* dmean = info[5].IsTypedArray() ? f32(info[5]) : nullptr;
  const float* dvar = info[6].IsTypedArray() ? f32(info[6]) : nullptr;
  const float eps = info[7].As<Napi::Number>().FloatValue();
  float* dx = f32(info[8]);
  float* dscale = f32(info[9]);
  float* doff = f32(info[10]);
  const int64_t C = static_cast<int64_t>(f32len(info[2]));
  const int64_t n = static_cast<int64_t>(f32len(info[0]));
  const int64_t R = n / C;
  std::vector<double> sums = channel_dy_sums(x, dy, mean, R, C);
  std::vector<float> a(C), b(C), c0(C);
  const double inv_r = 1.0 / static_cast<double>(R);
  for (int64_t k = 0; k < C; ++k) {
    const double sdy = sums[k], sdyx = sums[C + k];
    const double r = 1.0 / std::sqrt(static_cast<double>(static_cast<float>(var[k] + eps)));
    const double s = has_scale ? sc[k] : 1.0;
    doff[k] = static_cast<float>(sdy);
    dscale[k] = static_cast<float>(r * sdyx);
    a[k] = static_cast<float>(s * r);
    b[k] = static_cast<float>(-s * r * r * r * sdyx * inv_r + (dvar ? 2.0 * dvar[k] * inv_r : 0.0));
    c0[k] = static_cast<float>(-s * r * sdy * inv_r + (dmean ? dmean[k] * inv_r : 0.0));
  }
#pragma omp parallel for schedule(static) if (n > kGrain)
  for (int64_t r = 0; r < R; ++r) {
    const float* px = x + r * C;
    const float* pd = dy + r * C;
    float* po = dx + r * C;
    for (int64_t k = 0; k < C; ++k) po[k] = pd[k] * a[k] + (px[k] - mean[k]) * b[k] + c0[k];
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- SGD with momentum (fused)
// sgdMomentum(value, grad, accum, newValue, newAccum, negLr, momentum, weightDecay): per element, in float32 and in
// the order tfjs' ops run them (MomentumOptimizer after the loop's decay term), so the result is bit-identical:
//   g' = g + value * weightDecay (skipped when weightDecay is 0); newAccum = momentum * accum + g';
//   newValue = negLr * newAccum + value.
Napi::Value SgdMomentum(const Napi::CallbackInfo& info) {
  const float* v = f32(info[0]);
  const float* g = f32(info[1]);
  const float* acc = f32(info[2]);
  float* nv = f32(info[3]);
  float* nacc = f32(info[4]);
  const float neg_lr = info[5].As<Napi::Number>().FloatValue();
  const float m = info[6].As<Napi::Number>().FloatValue();
  const float wd = info[7].As<Napi::Number>().FloatValue();
  const int64_t n = static_cast<int64_t>(f32len(info[0]));
  if (wd != 0.f) {
#pragma omp parallel for schedule(static) if (n > kGrain)
    for (int64_t i = 0; i < n; ++i) {
      const float gd = g[i] + v[i] * wd;
      const float a = m * acc[i] + gd;
      nacc[i] = a;
      nv[i] = neg_lr * a + v[i];
    }
  } else {
#pragma omp parallel for schedule(static) if (n > kGrain)
    for (int64_t i = 0; i < n; ++i) {
      const float a = m * acc[i] + g[i];
      nacc[i] = a;
      nv[i] = neg_lr * a + v[i];
    }
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- pooling (NHWC, plain loops)
// pool(op, x, out, dims Int32Array [N IH IW C OH OW KH KW SH SW PT PL]): op 0 max, 1 avg (padding not counted)
Napi::Value Pool(const Napi::CallbackInfo& info) {
  const int op = info[0].As<Napi::Number>().Int32Value();
  const float* x = f32(info[1]);
  float* o = f32(info[2]);
  auto d = ints(info[3]);
  const int64_t N = d[0], IH = d[1], IW = d[2], C = d[3], OH = d[4], OW = d[5], KH = d[6], KW = d[7], SH = d[8],
                SW = d[9], PT = d[10], PL = d[11];
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      std::vector<double> acc(C);
      for (int64_t ow = 0; ow < OW; ++ow) {
        std::fill(acc.begin(), acc.end(), op == 0 ? -INFINITY : 0.0);
        int64_t count = 0;
        for (int64_t kh = 0; kh < KH; ++kh) {
          const int64_t ih = oh * SH - PT + kh;
          if (ih < 0 || ih >= IH) continue;
          for (int64_t kw = 0; kw < KW; ++kw) {
            const int64_t iw = ow * SW - PL + kw;
            if (iw < 0 || iw >= IW) continue;
            const float* p = x + ((n * IH + ih) * IW + iw) * C;
            ++count;
            if (op == 0) {
              for (int64_t c = 0; c < C; ++c) acc[c] = (p[c] > acc[c] || std::isnan(p[c])) ? p[c] : acc[c];
            } else {
              for (int64_t c = 0; c < C; ++c) acc[c] += p[c];
            }
          }
        }
        float* po = o + ((n * OH + oh) * OW + ow) * C;
        for (int64_t c = 0; c < C; ++c) po[c] = static_cast<float>(op == 0 ? acc[c] : acc[c] / std::max<int64_t>(count, 1));
      }
    }
  }
  return info.Env().Undefined();
}

// poolGrad(op, dy, x, dx, dims): op 0 max (gradient to the first maximum in the window, as tfjs' cpu backend),
// 1 avg. Gathers per input pixel (no write conflicts, deterministic).
Napi::Value PoolGrad(const Napi::CallbackInfo& info) {
  const int op = info[0].As<Napi::Number>().Int32Value();
  const float* dy = f32(info[1]);
  const float* x = op == 0 ? f32(info[2]) : nullptr;
  float* dx = f32(info[3]);
  auto d = ints(info[4]);
  const int64_t N = d[0], IH = d[1], IW = d[2], C = d[3], OH = d[4], OW = d[5], KH = d[6], KW = d[7], SH = d[8],
                SW = d[9], PT = d[10], PL = d[11];
  std::memset(dx, 0, sizeof(float) * N * IH * IW * C);
  // Scatter per (n, c) plane sequentially over output positions: each (n, c) is owned by one thread.
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t oh = 0; oh < OH; ++oh) {
        for (int64_t ow = 0; ow < OW; ++ow) {
          const float g = dy[((n * OH + oh) * OW + ow) * C + c];
          if (op == 0) {
            float best = -INFINITY;
            int64_t at = -1;
            for (int64_t kh = 0; kh < KH; ++kh) {
              const int64_t ih = oh * SH - PT + kh;
              if (ih < 0 || ih >= IH) continue;
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t iw = ow * SW - PL + kw;
                if (iw < 0 || iw >= IW) continue;
                const int64_t idx = ((n * IH + ih) * IW + iw) * C + c;
                if (at < 0 || x[idx] > best) {
                  best = x[idx];
                  at = idx;
                }
              }
            }
            if (at >= 0) dx[at] += g;
          } else {
            // tfjs' AvgPoolGrad divides by the whole window (padding included), whatever the forward pass counted.
            const float share = g / static_cast<float>(KH * KW);
            for (int64_t kh = 0; kh < KH; ++kh) {
              const int64_t ih = oh * SH - PT + kh;
              if (ih < 0 || ih >= IH) continue;
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t iw = ow * SW - PL + kw;
                if (iw < 0 || iw >= IW) continue;
                dx[((n * IH + ih) * IW + iw) * C + c] += share;
              }
            }
          }
        }
      }
    }
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- slice / pad
// copyBlock(src, srcShape, srcBegin, dst, dstShape, dstBegin, block): dst[dstBegin + i] = src[srcBegin + i] for every
// index i of `block` (row-major arrays of shapes srcShape and dstShape). Slice and pad are both this copy.
Napi::Value CopyBlock(const Napi::CallbackInfo& info) {
  const float* src = f32(info[0]);
  auto ss = ints(info[1]), sb = ints(info[2]);
  float* dst = f32(info[3]);
  auto ds = ints(info[4]), db = ints(info[5]), blk = ints(info[6]);
  const int r = static_cast<int>(blk.size());
  std::vector<int64_t> sstr(r, 1), dstr(r, 1);
  for (int k = r - 2; k >= 0; --k) {
    sstr[k] = sstr[k + 1] * ss[k + 1];
    dstr[k] = dstr[k + 1] * ds[k + 1];
  }
  int64_t s0 = 0, d0 = 0, outer = 1;
  for (int k = 0; k < r; ++k) {
    s0 += sb[k] * sstr[k];
    d0 += db[k] * dstr[k];
  }
  for (int k = 0; k < r - 1; ++k) outer *= blk[k];
  const int64_t inner = blk[r - 1];
#pragma omp parallel for schedule(static) if (outer * inner > kGrain)
  for (int64_t q = 0; q < outer; ++q) {
    int64_t rem = q, so = s0, dof = d0;
    for (int k = r - 2; k >= 0; --k) {
      const int64_t idx = rem % blk[k];
      rem /= blk[k];
      so += idx * sstr[k];
      dof += idx * dstr[k];
    }
    std::memcpy(dst + dof, src + so, sizeof(float) * inner);
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- gather
// gatherNd(params, indices Int32Array [numSlices, sliceRank], out, sliceSize, strides Int32Array [sliceRank]) -> bool:
// out[i, :] = params[sum_j indices[i, j] * strides[j], :] (rows of sliceSize). false (out unspecified) when an index
// falls outside params, so the caller can report it as tfjs does.
Napi::Value GatherNd(const Napi::CallbackInfo& info) {
  const float* params = f32(info[0]);
  auto idx_arr = info[1].As<Napi::Int32Array>();
  const int32_t* idx = idx_arr.Data();
  float* o = f32(info[2]);
  const int64_t slice = info[3].As<Napi::Number>().Int64Value();
  auto strides = ints(info[4]);
  const int64_t rank = static_cast<int64_t>(strides.size());
  const int64_t slices = static_cast<int64_t>(idx_arr.ElementLength()) / std::max<int64_t>(rank, 1);
  const int64_t rows = static_cast<int64_t>(f32len(info[0])) / std::max<int64_t>(slice, 1);
  int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (slices * slice > kGrain)
  for (int64_t i = 0; i < slices; ++i) {
    int64_t flat = 0;
    for (int64_t j = 0; j < rank; ++j) flat += static_cast<int64_t>(idx[i * rank + j]) * strides[j];
    if (flat < 0 || flat >= rows) {
      bad |= 1;
      continue;
    }
    std::memcpy(o + i * slice, params + flat * slice, sizeof(float) * slice);
  }
  return Napi::Boolean::New(info.Env(), bad == 0);
}

// ---------------------------------------------------------------- setup
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
#ifdef _OPENMP
  omp_set_num_threads(info[0].As<Napi::Number>().Int32Value());
#endif
  return info.Env().Undefined();
}

Napi::Value SetLayout(const Napi::CallbackInfo& info) {
  g_act_layout = info[0].As<Napi::Number>().Int32Value();
  return info.Env().Undefined();
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  const dnnl_version_t* v = dnnl_version();
  o.Set("version", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  std::string isa;
  switch (get_effective_cpu_isa()) {
    case cpu_isa::sse41: isa = "sse41"; break;
    case cpu_isa::avx: isa = "avx"; break;
    case cpu_isa::avx2: isa = "avx2"; break;
    case cpu_isa::avx512_core: isa = "avx512_core"; break;
    case cpu_isa::avx512_core_vnni: isa = "avx512_core_vnni"; break;
    case cpu_isa::avx512_core_bf16: isa = "avx512_core_bf16"; break;
    case cpu_isa::avx512_core_amx: isa = "avx512_core_amx"; break;
    case cpu_isa::avx2_vnni: isa = "avx2_vnni"; break;
    default: isa = "other"; break;
  }
  o.Set("isa", isa);
#ifdef _OPENMP
  o.Set("threads", omp_get_max_threads());
#else
  o.Set("threads", 1);
#endif
  o.Set("cachedPrimitives", static_cast<double>(g_conv.size() + g_matmul.size()));
  // Which oneDNN implementations the cached convolutions run (for tests and reports), one entry per distinct name.
  std::vector<std::string> impls;
  for (const auto& kv : g_conv) {
    if (std::find(impls.begin(), impls.end(), kv.second->impl) == impls.end()) impls.push_back(kv.second->impl);
  }
  auto arr = Napi::Array::New(env, impls.size());
  for (size_t i = 0; i < impls.size(); ++i) arr.Set(static_cast<uint32_t>(i), impls[i]);
  o.Set("convImplementations", arr);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
#if defined(__GLIBC__)
  // Every tfjs tensor is a fresh ArrayBuffer (calloc). glibc serves the large ones with mmap and returns them with
  // munmap, so each new activation costs page faults on first touch (measured: ~8x the kernel's own time on a
  // loaded 2-core VM). Keeping large blocks on the heap and never trimming it lets freed buffers be reused; the
  // process keeps its peak footprint instead of returning it to the OS.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
  exports.Set("conv", Napi::Function::New(env, Conv));
  exports.Set("matmul", Napi::Function::New(env, Matmul));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("reduce", Napi::Function::New(env, Reduce));
  exports.Set("tile", Napi::Function::New(env, Tile));
  exports.Set("batchNorm", Napi::Function::New(env, BatchNorm));
  exports.Set("batchNormGrad", Napi::Function::New(env, BatchNormGrad));
  exports.Set("bnTrain", Napi::Function::New(env, BnTrain));
  exports.Set("bnTrainGrad", Napi::Function::New(env, BnTrainGrad));
  exports.Set("sgdMomentum", Napi::Function::New(env, SgdMomentum));
  exports.Set("pool", Napi::Function::New(env, Pool));
  exports.Set("poolGrad", Napi::Function::New(env, PoolGrad));
  exports.Set("copyBlock", Napi::Function::New(env, CopyBlock));
  exports.Set("gatherNd", Napi::Function::New(env, GatherNd));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("setLayout", Napi::Function::New(env, SetLayout));
  exports.Set("info", Napi::Function::New(env, Info));
  return exports;
}

}  // namespace

NODE_API_MODULE(cds_onednn, Init)
