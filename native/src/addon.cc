// meridian_native: a thin, mechanical node-addon-api layer over libbpf 1.1.
//
// Every native handle (object, map, program, link, ring buffer) is owned by one
// ObjectWrap. Each owns its own file descriptor (maps and programs are dup'ed out of
// their object), so closing an object never invalidates a map handle taken from it.
// Handles close on close(), on garbage collection, and at environment exit through
// one cleanup hook. Any use after close throws. Errors carry errno, the errno name
// and everything libbpf printed during the failing call (the verifier log included).
//
// Decisions (which maps to pin, what a policy means) are made in TypeScript.

#include <napi.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter_ipv4.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

// The 6.1 uapi headers predate tcx; the running kernel (6.18) knows these values.
static const int kTcxIngress = 46;
static const int kTcxEgress = 47;

namespace {

// ---------------------------------------------------------------------------
// libbpf output capture: everything libbpf prints during one call is kept and
// attached to the error that call may throw.
thread_local std::string g_log;
std::atomic<bool> g_debug{false};

int PrintFn(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !g_debug.load()) return 0;
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string buf(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(&buf[0], buf.size(), fmt, args);
  buf.resize(static_cast<size_t>(n));
  if (g_log.size() < (8u << 20)) g_log += buf;
  return 0;
}

struct LogScope {
  LogScope() { g_log.clear(); }
};

[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& op, int err) {
  if (err < 0) err = -err;
  std::string msg = op + ": " + strerror(err);
  std::string log = g_log;
  // Keep the message readable; the full libbpf output is on error.libbpfLog.
  if (!log.empty()) {
    std::string tail = log.size() > 4000 ? log.substr(log.size() - 4000) : log;
    msg += "\n" + tail;
  }
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  const char* name = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("libbpfLog", Napi::String::New(env, log));
  g_log.clear();
  throw e;
}

[[noreturn]] void ThrowType(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) ThrowType(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowType(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int64Value();
}

Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsBuffer()) ThrowType(info.Env(), std::string(what) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

// ---------------------------------------------------------------------------
// Every live handle registers here so the exit hook can close what JS forgot.
struct Closable {
  virtual void CloseNative() = 0;
  virtual ~Closable() = default;
  napi_env owner = nullptr;  // the environment (main thread or worker) that created it
};

std::mutex g_open_mu;
std::set<Closable*>* g_open = new std::set<Closable*>();

void Track(Closable* c, napi_env env) {
  std::lock_guard<std::mutex> l(g_open_mu);
  c->owner = env;
  g_open->insert(c);
}
void Untrack(Closable* c) {
  std::lock_guard<std::mutex> l(g_open_mu);
  g_open->erase(c);
}
// At an environment's exit close what it still holds (a worker exiting must not close
// the main thread's handles).
void CloseAll(napi_env env) {
  std::vector<Closable*> mine;
  {
    std::lock_guard<std::mutex> l(g_open_mu);
    for (Closable* c : *g_open)
      if (c->owner == env) mine.push_back(c);
  }
  for (Closable* c : mine) c->CloseNative();
}

struct Ctors {
  Napi::FunctionReference object, map, program, link, ring;
};
Ctors* CtorsOf(Napi::Env env) { return env.GetInstanceData<Ctors>(); }

// ---------------------------------------------------------------------------
class BpfMap : public Napi::ObjectWrap<BpfMap>, public Closable {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "BpfMap",
                       {
                           StaticMethod("fromPinned", &BpfMap::FromPinned),
                           InstanceAccessor("fd", &BpfMap::Fd, nullptr),
                           InstanceAccessor("closed", &BpfMap::Closed, nullptr),
                           InstanceMethod("info", &BpfMap::Info),
                           InstanceMethod("lookup", &BpfMap::Lookup),
                           InstanceMethod("update", &BpfMap::Update),
                           InstanceMethod("delete", &BpfMap::Delete),
                           InstanceMethod("nextKey", &BpfMap::NextKey),
                           InstanceMethod("updateBatch", &BpfMap::UpdateBatch),
                           InstanceMethod("deleteBatch", &BpfMap::DeleteBatch),
                           InstanceMethod("dump", &BpfMap::Dump),
                           InstanceMethod("pin", &BpfMap::Pin),
                           InstanceMethod("close", &BpfMap::Close),
                       });
  }

  // Only created internally: new BpfMap(External<int> ownedFd).
  BpfMap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfMap>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) ThrowType(info.Env(), "BpfMap is created by BpfObject.map() or BpfMap.fromPinned()");
    fd_ = *info[0].As<Napi::External<int>>().Data();
    struct bpf_map_info mi = {};
    __u32 len = sizeof(mi);
    if (bpf_obj_get_info_by_fd(fd_, &mi, &len) != 0) {
      int err = errno;
      ::close(fd_);
      fd_ = -1;
      ThrowErrno(info.Env(), "bpf_obj_get_info_by_fd(map)", err);
    }
    info_ = mi;
    percpu_ = mi.type == BPF_MAP_TYPE_PERCPU_ARRAY || mi.type == BPF_MAP_TYPE_PERCPU_HASH ||
              mi.type == BPF_MAP_TYPE_LRU_PERCPU_HASH || mi.type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
    int ncpu = libbpf_num_possible_cpus();
    value_len_ = percpu_ ? ((mi.value_size + 7) / 8) * 8 * static_cast<size_t>(ncpu > 0 ? ncpu : 1) : mi.value_size;
    Track(this, info.Env());
  }
  ~BpfMap() override {
    CloseNative();
    Untrack(this);
  }
  void CloseNative() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  static Napi::Object NewFromFd(Napi::Env env, int ownedFd) {
    return CtorsOf(env)->map.New({Napi::External<int>::New(env, &ownedFd)});
  }

 private:
  int Live(Napi::Env env) {
    if (fd_ < 0) throw Napi::Error::New(env, "BpfMap is closed");
    return fd_;
  }
  void CheckKey(Napi::Env env, const Napi::Buffer<uint8_t>& b) {
    if (b.Length() != info_.key_size)
      ThrowType(env, "key must be " + std::to_string(info_.key_size) + " bytes, got " + std::to_string(b.Length()));
  }

  static Napi::Value FromPinned(const Napi::CallbackInfo& info) {
    LogScope ls;
    std::string path = ArgString(info, 0, "path");
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) ThrowErrno(info.Env(), "bpf_obj_get(" + path + ")", errno);
    return NewFromFd(info.Env(), fd);
  }
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), Live(info.Env())); }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", info_.id);
    o.Set("type", info_.type);
    o.Set("name", std::string(info_.name));
    o.Set("keySize", info_.key_size);
    o.Set("valueSize", info_.value_size);
    o.Set("maxEntries", info_.max_entries);
    o.Set("flags", info_.map_flags);
    o.Set("valueBufferSize", static_cast<double>(value_len_));
    o.Set("perCpu", percpu_);
    return o;
  }

  Napi::Value Lookup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    auto key = ArgBuffer(info, 0, "key");
    CheckKey(env, key);
    auto out = Napi::Buffer<uint8_t>::New(env, value_len_ ? value_len_ : 1);
    if (bpf_map_lookup_elem(fd, key.Data(), out.Data()) != 0) {
      if (errno == ENOENT) return env.Null();
      ThrowErrno(env, "bpf_map_lookup_elem", errno);
    }
    return out;
  }

  Napi::Value Update(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    auto key = ArgBuffer(info, 0, "key");
    auto value = ArgBuffer(info, 1, "value");
    CheckKey(env, key);
    if (value.Length() != value_len_) ThrowType(env, "value must be " + std::to_string(value_len_) + " bytes");
    uint64_t flags = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : static_cast<int64_t>(BPF_ANY);
    if (bpf_map_update_elem(fd, key.Data(), value.Data(), flags) != 0) ThrowErrno(env, "bpf_map_update_elem", errno);
    return env.Undefined();
  }

  Napi::Value Delete(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    auto key = ArgBuffer(info, 0, "key");
    CheckKey(env, key);
    if (bpf_map_delete_elem(fd, key.Data()) != 0) {
      if (errno == ENOENT) return Napi::Boolean::New(env, false);
      ThrowErrno(env, "bpf_map_delete_elem", errno);
    }
    return Napi::Boolean::New(env, true);
  }

  // nextKey(null) -> first key; nextKey(k) -> key after k; null at the end.
  Napi::Value NextKey(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    const void* cur = nullptr;
    if (info.Length() > 0 && !info[0].IsNull() && !info[0].IsUndefined()) {
      auto key = ArgBuffer(info, 0, "key");
      CheckKey(env, key);
      cur = key.Data();
    }
    auto out = Napi::Buffer<uint8_t>::New(env, info_.key_size);
    if (bpf_map_get_next_key(fd, cur, out.Data()) != 0) {
      if (errno == ENOENT) return env.Null();
      ThrowErrno(env, "bpf_map_get_next_key", errno);
    }
    return out;
  }

  // updateBatch(keys, values, count[, flags]): keys/values are count records back to back.
  Napi::Value UpdateBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    auto keys = ArgBuffer(info, 0, "keys");
    auto values = ArgBuffer(info, 1, "values");
    int64_t count = ArgInt(info, 2, "count");
    if (count < 0 || keys.Length() != static_cast<size_t>(count) * info_.key_size ||
        values.Length() != static_cast<size_t>(count) * value_len_)
      ThrowType(env, "keys/values length does not match count");
    if (count == 0) return Napi::Number::New(env, 0);
    DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = 0, .flags = 0);
    __u32 n = static_cast<__u32>(count);
    if (bpf_map_update_batch(fd, keys.Data(), values.Data(), &n, &opts) != 0)
      ThrowErrno(env, "bpf_map_update_batch (" + std::to_string(n) + " of " + std::to_string(count) + " done)", errno);
    return Napi::Number::New(env, n);
  }

  Napi::Value DeleteBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    auto keys = ArgBuffer(info, 0, "keys");
    int64_t count = ArgInt(info, 1, "count");
    if (count < 0 || keys.Length() != static_cast<size_t>(count) * info_.key_size)
      ThrowType(env, "keys length does not match count");
    if (count == 0) return Napi::Number::New(env, 0);
    DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = 0, .flags = 0);
    __u32 n = static_cast<__u32>(count);
    if (bpf_map_delete_batch(fd, keys.Data(), &n, &opts) != 0 && errno != ENOENT)
      ThrowErrno(env, "bpf_map_delete_batch", errno);
    return Napi::Number::New(env, n);
  }

  // dump([chunk]) -> { keys, values, count }: every entry, read with BPF_MAP_LOOKUP_BATCH.
  // Throws (EINVAL / EOPNOTSUPP) for map types without batch lookup; callers fall back to nextKey.
  Napi::Value Dump(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    uint32_t chunk = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 4096;
    if (chunk == 0) chunk = 4096;
    std::vector<uint8_t> keys, values;
    std::vector<uint8_t> kb(static_cast<size_t>(chunk) * info_.key_size), vb(static_cast<size_t>(chunk) * value_len_);
    // The resume token is a bucket index for hash maps and a key for the generic walk.
    std::vector<uint8_t> in(info_.key_size + 8), out(info_.key_size + 8);
    bool first = true;
    size_t total = 0;
    for (;;) {
      DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = 0, .flags = 0);
      __u32 n = chunk;
      int rc = bpf_map_lookup_batch(fd, first ? nullptr : in.data(), out.data(), kb.data(), vb.data(), &n, &opts);
      int err = rc ? errno : 0;
      if (rc && err != ENOENT) ThrowErrno(env, "bpf_map_lookup_batch", err);
      keys.insert(keys.end(), kb.begin(), kb.begin() + static_cast<size_t>(n) * info_.key_size);
      values.insert(values.end(), vb.begin(), vb.begin() + static_cast<size_t>(n) * value_len_);
      total += n;
      if (err == ENOENT) break;
      in = out;
      first = false;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), keys.size()));
    o.Set("values", Napi::Buffer<uint8_t>::Copy(env, values.data(), values.size()));
    o.Set("count", Napi::Number::New(env, static_cast<double>(total)));
    return o;
  }

  Napi::Value Pin(const Napi::CallbackInfo& info) {
    LogScope ls;
    Napi::Env env = info.Env();
    int fd = Live(env);
    std::string path = ArgString(info, 0, "path");
    if (bpf_obj_pin(fd, path.c_str()) != 0) ThrowErrno(env, "bpf_obj_pin(" + path + ")", errno);
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseNative();
    return info.Env().Undefined();
  }

  int fd_ = -1;
  struct bpf_map_info info_ = {};
  bool percpu_ = false;
  size_t value_len_ = 0;

 public:
  int fd() const { return fd_; }
  uint32_t type() const { return info_.type; }
};

// ---------------------------------------------------------------------------
class BpfProgram : public Napi::ObjectWrap<BpfProgram>, public Closable {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "BpfProgram",
                       {
                           StaticMethod("fromPinned", &BpfProgram::FromPinned),
                           InstanceAccessor("fd", &BpfProgram::Fd, nullptr),
                           InstanceAccessor("closed", &BpfProgram::Closed, nullptr),
                           InstanceMethod("info", &BpfProgram::Info),
                           InstanceMethod("testRun", &BpfProgram::TestRun),
                           InstanceMethod("pin", &BpfProgram::Pin),
                           InstanceMethod("close", &BpfProgram::Close),
                       });
  }
  BpfProgram(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfProgram>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) ThrowType(info.Env(), "BpfProgram is created by BpfObject.program()");
    fd_ = *info[0].As<Napi::External<int>>().Data();
    Track(this, info.Env());
  }
  ~BpfProgram() override {
    CloseNative();
    Untrack(this);
  }
  void CloseNative() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  static Napi::Object NewFromFd(Napi::Env env, int ownedFd) {
    return CtorsOf(env)->program.New({Napi::External<int>::New(env, &ownedFd)});
  }
  int Live(Napi::Env env) {
    if (fd_ < 0) throw Napi::Error::New(env, "BpfProgram is closed");
    return fd_;
  }

 private:
  static Napi::Value FromPinned(const Napi::CallbackInfo& info) {
    LogScope ls;
    std::string path = ArgString(info, 0, "path");
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) ThrowErrno(info.Env(), "bpf_obj_get(" + path + ")", errno);
    return NewFromFd(info.Env(), fd);
  }
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), Live(info.Env())); }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    struct bpf_prog_info pi = {};
    __u32 len = sizeof(pi);
    if (bpf_obj_get_info_by_fd(fd, &pi, &len) != 0) ThrowErrno(env, "bpf_obj_get_info_by_fd(prog)", errno);
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", pi.id);
    o.Set("type", pi.type);
    o.Set("name", std::string(pi.name));
    o.Set("tag", Napi::Buffer<uint8_t>::Copy(env, pi.tag, sizeof(pi.tag)));
    return o;
  }

  // testRun({ data, repeat?, dataOutSize? }) -> { retval, data, duration }
  Napi::Value TestRun(const Napi::CallbackInfo& info) {
    LogScope ls;
    Napi::Env env = info.Env();
    int fd = Live(env);
    if (info.Length() < 1 || !info[0].IsObject()) ThrowType(env, "testRun expects { data, repeat? }");
    Napi::Object opt = info[0].As<Napi::Object>();
    Napi::Value d = opt.Get("data");
    if (!d.IsBuffer()) ThrowType(env, "data must be a Buffer");
    auto data = d.As<Napi::Buffer<uint8_t>>();
    int repeat = opt.Has("repeat") && opt.Get("repeat").IsNumber() ? opt.Get("repeat").As<Napi::Number>().Int32Value() : 1;
    size_t outSize = opt.Has("dataOutSize") && opt.Get("dataOutSize").IsNumber()
                         ? opt.Get("dataOutSize").As<Napi::Number>().Uint32Value()
                         : data.Length() + 512;
    std::vector<uint8_t> out(outSize ? outSize : 1);
    DECLARE_LIBBPF_OPTS(bpf_test_run_opts, t);
    t.data_in = data.Data();
    t.data_size_in = static_cast<__u32>(data.Length());
    t.data_out = out.data();
    t.data_size_out = static_cast<__u32>(out.size());
    t.repeat = repeat;
    if (bpf_prog_test_run_opts(fd, &t) != 0) ThrowErrno(env, "bpf_prog_test_run_opts", errno);
    Napi::Object r = Napi::Object::New(env);
    r.Set("retval", Napi::Number::New(env, static_cast<int32_t>(t.retval)));
    r.Set("data", Napi::Buffer<uint8_t>::Copy(env, out.data(), std::min<size_t>(t.data_size_out, out.size())));
    r.Set("duration", Napi::Number::New(env, t.duration));
    return r;
  }

  Napi::Value Pin(const Napi::CallbackInfo& info) {
    LogScope ls;
    Napi::Env env = info.Env();
    int fd = Live(env);
    std::string path = ArgString(info, 0, "path");
    if (bpf_obj_pin(fd, path.c_str()) != 0) ThrowErrno(env, "bpf_obj_pin(" + path + ")", errno);
    return env.Undefined();
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseNative();
    return info.Env().Undefined();
  }
  int fd_ = -1;
};

BpfProgram* UnwrapProgram(Napi::Env env, Napi::Value v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(CtorsOf(env)->program.Value()))
    ThrowType(env, "expected a BpfProgram");
  return BpfProgram::Unwrap(v.As<Napi::Object>());
}

// ---------------------------------------------------------------------------
class BpfObject : public Napi::ObjectWrap<BpfObject>, public Closable {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "BpfObject",
                       {
                           InstanceAccessor("closed", &BpfObject::Closed, nullptr),
                           InstanceMethod("programNames", &BpfObject::ProgramNames),
                           InstanceMethod("mapNames", &BpfObject::MapNames),
                           InstanceMethod("program", &BpfObject::Program),
                           InstanceMethod("map", &BpfObject::Map),
                           InstanceMethod("close", &BpfObject::Close),
                       });
  }

  // new BpfObject(path, { pinDir?: string, pinMaps?: boolean, logLevel?: number })
  // With pinDir, every non-internal map is bound to <pinDir>/<map name>: an existing
  // compatible pin is reused, a missing one is created and pinned after load.
  BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
    LogScope ls;
    Napi::Env env = info.Env();
    std::string path = ArgString(info, 0, "path");
    std::string pinDir;
    uint32_t logLevel = 0;
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Object o = info[1].As<Napi::Object>();
      if (o.Has("pinDir") && o.Get("pinDir").IsString()) pinDir = o.Get("pinDir").As<Napi::String>().Utf8Value();
      if (o.Has("logLevel") && o.Get("logLevel").IsNumber()) logLevel = o.Get("logLevel").As<Napi::Number>().Uint32Value();
    }
    DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo);
    oo.kernel_log_level = logLevel;
    struct bpf_object* obj = bpf_object__open_file(path.c_str(), &oo);
    if (!obj) ThrowErrno(env, "bpf_object__open_file(" + path + ")", errno);
    if (!pinDir.empty()) {
      struct bpf_map* m;
      bpf_object__for_each_map(m, obj) {
        if (bpf_map__is_internal(m)) continue;
        std::string p = pinDir + "/" + bpf_map__name(m);
        int err = bpf_map__set_pin_path(m, p.c_str());
        if (err) {
          bpf_object__close(obj);
          ThrowErrno(env, "bpf_map__set_pin_path(" + p + ")", err);
        }
      }
    }
    int err = bpf_object__load(obj);
    if (err) {
      // Keep the log: closing may print too.
      std::string log = g_log;
      bpf_object__close(obj);
      g_log = log;
      ThrowErrno(env, "bpf_object__load(" + path + ")", err);
    }
    obj_ = obj;
    Track(this, info.Env());
  }
  ~BpfObject() override {
    CloseNative();
    Untrack(this);
  }
  void CloseNative() override {
    if (obj_) bpf_object__close(obj_);
    obj_ = nullptr;
  }

 private:
  struct bpf_object* Live(Napi::Env env) {
    if (!obj_) throw Napi::Error::New(env, "BpfObject is closed");
    return obj_;
  }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), obj_ == nullptr); }

  Napi::Value ProgramNames(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto* obj = Live(env);
    Napi::Array a = Napi::Array::New(env);
    struct bpf_program* p;
    uint32_t i = 0;
    bpf_object__for_each_program(p, obj) a.Set(i++, std::string(bpf_program__name(p)));
    return a;
  }
  Napi::Value MapNames(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto* obj = Live(env);
    Napi::Array a = Napi::Array::New(env);
    struct bpf_map* m;
    uint32_t i = 0;
    bpf_object__for_each_map(m, obj) a.Set(i++, std::string(bpf_map__name(m)));
    return a;
  }
  Napi::Value Program(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto* obj = Live(env);
    std::string name = ArgString(info, 0, "name");
    struct bpf_program* p = bpf_object__find_program_by_name(obj, name.c_str());
    if (!p) ThrowErrno(env, "no program named " + name, ENOENT);
    int fd = fcntl(bpf_program__fd(p), F_DUPFD_CLOEXEC, 3);
    if (fd < 0) ThrowErrno(env, "dup(program fd)", errno);
    return BpfProgram::NewFromFd(env, fd);
  }
  Napi::Value Map(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto* obj = Live(env);
    std::string name = ArgString(info, 0, "name");
    struct bpf_map* m = bpf_object__find_map_by_name(obj, name.c_str());
    if (!m) ThrowErrno(env, "no map named " + name, ENOENT);
    int fd = fcntl(bpf_map__fd(m), F_DUPFD_CLOEXEC, 3);
    if (fd < 0) ThrowErrno(env, "dup(map fd)", errno);
    return BpfMap::NewFromFd(env, fd);
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseNative();
    return info.Env().Undefined();
  }
  struct bpf_object* obj_ = nullptr;
};

// ---------------------------------------------------------------------------
class BpfLink : public Napi::ObjectWrap<BpfLink>, public Closable {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "BpfLink",
                       {
                           StaticMethod("attachTcx", &BpfLink::AttachTcx),
                           StaticMethod("fromPinned", &BpfLink::FromPinned),
                           InstanceAccessor("fd", &BpfLink::Fd, nullptr),
                           InstanceAccessor("closed", &BpfLink::Closed, nullptr),
                           InstanceMethod("info", &BpfLink::Info),
                           InstanceMethod("update", &BpfLink::Update),
                           InstanceMethod("pin", &BpfLink::Pin),
                           InstanceMethod("detach", &BpfLink::Detach),
                           InstanceMethod("close", &BpfLink::Close),
                       });
  }
  BpfLink(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfLink>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) ThrowType(info.Env(), "BpfLink is created by BpfLink.attachTcx()");
    fd_ = *info[0].As<Napi::External<int>>().Data();
    Track(this, info.Env());
  }
  ~BpfLink() override {
    CloseNative();
    Untrack(this);
  }
  // Closing the fd detaches only when nothing else (a pin) holds the link.
  void CloseNative() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  static Napi::Object NewFromFd(Napi::Env env, int ownedFd) {
    return CtorsOf(env)->link.New({Napi::External<int>::New(env, &ownedFd)});
  }
  int Live(Napi::Env env) {
    if (fd_ < 0) throw Napi::Error::New(env, "BpfLink is closed");
    return fd_;
  }

  // attachTcx(program, ifindex, "ingress" | "egress")
  static Napi::Value AttachTcx(const Napi::CallbackInfo& info) {
    LogScope ls;
    Napi::Env env = info.Env();
    BpfProgram* prog = UnwrapProgram(env, info[0]);
    int64_t ifindex = ArgInt(info, 1, "ifindex");
    std::string dir = ArgString(info, 2, "direction");
    int type;
    if (dir == "ingress") type = kTcxIngress;
    else if (dir == "egress") type = kTcxEgress;
    else ThrowType(env, "direction must be \"ingress\" or \"egress\"");
    int fd = bpf_link_create(prog->Live(env), static_cast<int>(ifindex), static_cast<enum bpf_attach_type>(type), nullptr);
    if (fd < 0) ThrowErrno(env, "bpf_link_create(tcx " + dir + ", ifindex " + std::to_string(ifindex) + ")", errno);
    return NewFromFd(env, fd);
  }
  static Napi::Value FromPinned(const Napi::CallbackInfo& info) {
    LogScope ls;
    std::string path = ArgString(info, 0, "path");
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) ThrowErrno(info.Env(), "bpf_obj_get(" + path + ")", errno);
    return NewFromFd(info.Env(), fd);
  }
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), Live(info.Env())); }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    // Big enough for newer kernels' link_info (tcx adds ifindex + attach_type after the header).
    struct {
      struct bpf_link_info li;
      uint8_t spare[64];
    } buf = {};
    __u32 len = sizeof(buf);
    if (bpf_obj_get_info_by_fd(fd, &buf, &len) != 0) ThrowErrno(env, "bpf_obj_get_info_by_fd(link)", errno);
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", buf.li.id);
    o.Set("type", buf.li.type);
    o.Set("progId", buf.li.prog_id);
    // For tcx links (type 11) the kernel writes { ifindex, attach_type } right after prog_id.
    uint32_t words[2];
    memcpy(words, reinterpret_cast<uint8_t*>(&buf.li) + 16, sizeof(words));
    if (buf.li.type == 11) {
      o.Set("ifindex", words[0]);
      o.Set("attachType", words[1]);
    }
    return o;
  }

  // update(newProgram[, expectedOldProgram]): atomic replace on the live link.
  Napi::Value Update(const Napi::CallbackInfo& info) {
    LogScope ls;
    Napi::Env env = info.Env();
    int fd = Live(env);
    BpfProgram* prog = UnwrapProgram(env, info[0]);
    DECLARE_LIBBPF_OPTS(bpf_link_update_opts, uo);
    if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
      BpfProgram* old = UnwrapProgram(env, info[1]);
      uo.flags = BPF_F_REPLACE;
      uo.old_prog_fd = old->Live(env);
    }
    if (bpf_link_update(fd, prog->Live(env), &uo) != 0) ThrowErrno(env, "bpf_link_update", errno);
    return env.Undefined();
  }
  Napi::Value Pin(const Napi::CallbackInfo& info) {
    LogScope ls;
    Napi::Env env = info.Env();
    int fd = Live(env);
    std::string path = ArgString(info, 0, "path");
    if (bpf_obj_pin(fd, path.c_str()) != 0) ThrowErrno(env, "bpf_obj_pin(" + path + ")", errno);
    return env.Undefined();
  }
  // Detach from the hook even if pins or other fds still hold the link.
  Napi::Value Detach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = Live(env);
    if (bpf_link_detach(fd) != 0) ThrowErrno(env, "bpf_link_detach", errno);
    return env.Undefined();
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseNative();
    return info.Env().Undefined();
  }
  int fd_ = -1;
};

// ---------------------------------------------------------------------------
// Ring buffer consumer. With a callback, a thread blocks in ring_buffer__poll and hands
// each batch of records to JavaScript through a ThreadSafeFunction, so the event loop
// never waits on the kernel. Without one, consume() drains synchronously (tests).
class RingBuffer : public Napi::ObjectWrap<RingBuffer>, public Closable {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "RingBuffer",
                       {
                           InstanceAccessor("closed", &RingBuffer::Closed, nullptr),
                           InstanceMethod("consume", &RingBuffer::Consume),
                           InstanceMethod("close", &RingBuffer::Close),
                       });
  }
  // new RingBuffer(map: BpfMap, onRecords?: (records: Buffer[]) => void)
  RingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBuffer>(info) {
    LogScope ls;
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(CtorsOf(env)->map.Value()))
      ThrowType(env, "RingBuffer expects a BpfMap");
    BpfMap* m = BpfMap::Unwrap(info[0].As<Napi::Object>());
    if (m->fd() < 0) throw Napi::Error::New(env, "BpfMap is closed");
    if (m->type() != BPF_MAP_TYPE_RINGBUF) ThrowType(env, "map is not a ring buffer");
    map_fd_ = fcntl(m->fd(), F_DUPFD_CLOEXEC, 3);
    if (map_fd_ < 0) ThrowErrno(env, "dup(ringbuf fd)", errno);
    rb_ = ring_buffer__new(map_fd_, &RingBuffer::OnRecord, this, nullptr);
    if (!rb_) {
      int err = errno;
      ::close(map_fd_);
      ThrowErrno(env, "ring_buffer__new", err);
    }
    if (info.Length() > 1 && info[1].IsFunction()) {
      threaded_ = true;
      tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "meridian-ringbuf", 0, 1);
      stop_ = false;
      thread_ = std::thread([this] { Run(); });
    }
    Track(this, info.Env());
  }
  ~RingBuffer() override {
    CloseNative();
    Untrack(this);
  }
  void CloseNative() override {
    if (!rb_) return;
    if (threaded_) {
      stop_ = true;
      if (thread_.joinable()) thread_.join();
      tsfn_.Release();
      threaded_ = false;
    }
    ring_buffer__free(rb_);
    rb_ = nullptr;
    ::close(map_fd_);
    map_fd_ = -1;
  }

 private:
  static int OnRecord(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingBuffer*>(ctx);
    const uint8_t* p = static_cast<const uint8_t*>(data);
    self->pending_.emplace_back(p, p + size);
    return 0;
  }
  void Run() {
    while (!stop_) {
      int n = ring_buffer__poll(rb_, 100);
      if (n < 0 && n != -EINTR) break;
      if (pending_.empty()) continue;
      auto* batch = new std::vector<std::vector<uint8_t>>(std::move(pending_));
      pending_.clear();
      napi_status st = tsfn_.BlockingCall(batch, [](Napi::Env env, Napi::Function cb, std::vector<std::vector<uint8_t>>* b) {
        Napi::Array a = Napi::Array::New(env, b->size());
        for (size_t i = 0; i < b->size(); i++) a.Set(i, Napi::Buffer<uint8_t>::Copy(env, (*b)[i].data(), (*b)[i].size()));
        delete b;
        cb.Call({a});
      });
      if (st != napi_ok) {
        delete batch;
        break;
      }
    }
  }
  Napi::Value Consume(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!rb_) throw Napi::Error::New(env, "RingBuffer is closed");
    if (threaded_) throw Napi::Error::New(env, "consume() is for ring buffers opened without a callback");
    pending_.clear();
    int n = ring_buffer__consume(rb_);
    if (n < 0) ThrowErrno(env, "ring_buffer__consume", n);
    Napi::Array a = Napi::Array::New(env, pending_.size());
    for (size_t i = 0; i < pending_.size(); i++) a.Set(i, Napi::Buffer<uint8_t>::Copy(env, pending_[i].data(), pending_[i].size()));
    pending_.clear();
    return a;
  }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), rb_ == nullptr); }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseNative();
    return info.Env().Undefined();
  }

  int map_fd_ = -1;
  struct ring_buffer* rb_ = nullptr;
  bool threaded_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Napi::ThreadSafeFunction tsfn_;
  std::vector<std::vector<uint8_t>> pending_;
};

// ---------------------------------------------------------------------------
// Socket options Node does not expose. All take a raw fd (socket._handle.fd).

int ArgFd(const Napi::CallbackInfo& info) {
  int64_t fd = ArgInt(info, 0, "fd");
  if (fd < 0) ThrowType(info.Env(), "fd must be >= 0");
  return static_cast<int>(fd);
}

bool ParseAddr(const std::string& s, struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof(*ss));
  auto* v4 = reinterpret_cast<struct sockaddr_in*>(ss);
  auto* v6 = reinterpret_cast<struct sockaddr_in6*>(ss);
  if (inet_pton(AF_INET, s.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    return true;
  }
  return false;
}

// setTcpMd5Sig(fd, peerAddress, key: Buffer | string, prefixLength?)
// An empty key removes the signature for that peer.
Napi::Value SetTcpMd5Sig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info);
  std::string addr = ArgString(info, 1, "peerAddress");
  std::string key;
  if (info.Length() > 2 && info[2].IsBuffer()) {
    auto b = info[2].As<Napi::Buffer<uint8_t>>();
    key.assign(reinterpret_cast<const char*>(b.Data()), b.Length());
  } else if (info.Length() > 2 && info[2].IsString()) {
    key = info[2].As<Napi::String>().Utf8Value();
  } else {
    ThrowType(env, "key must be a Buffer or string");
  }
  if (key.size() > TCP_MD5SIG_MAXKEYLEN) ThrowType(env, "key is longer than 80 bytes");
  struct tcp_md5sig sig = {};
  if (!ParseAddr(addr, &sig.tcpm_addr)) ThrowType(env, "peerAddress is not an IP address");
  int opt = TCP_MD5SIG;
  if (info.Length() > 3 && info[3].IsNumber()) {
    sig.tcpm_flags = TCP_MD5SIG_FLAG_PREFIX;
    sig.tcpm_prefixlen = static_cast<uint8_t>(info[3].As<Napi::Number>().Uint32Value());
    opt = TCP_MD5SIG_EXT;
  }
  sig.tcpm_keylen = static_cast<uint16_t>(key.size());
  memcpy(sig.tcpm_key, key.data(), key.size());
  if (setsockopt(fd, IPPROTO_TCP, opt, &sig, sizeof(sig)) != 0) ThrowErrno(env, "setsockopt(TCP_MD5SIG)", errno);
  return env.Undefined();
}

int SocketFamily(int fd) {
  struct sockaddr_storage ss = {};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) return -1;
  return ss.ss_family;
}

// setIpTransparent(fd, on)
Napi::Value SetIpTransparent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info);
  int on = info.Length() > 1 && info[1].ToBoolean().Value() ? 1 : 0;
  int fam = SocketFamily(fd);
  int rc = fam == AF_INET6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &on, sizeof(on))
                           : setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &on, sizeof(on));
  if (rc != 0) ThrowErrno(env, "setsockopt(IP_TRANSPARENT)", errno);
  return env.Undefined();
}

// getOriginalDst(fd) -> { address, port } as seen before a netfilter REDIRECT/DNAT.
Napi::Value GetOriginalDst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info);
  int fam = SocketFamily(fd);
  struct sockaddr_storage ss = {};
  socklen_t len = sizeof(ss);
  int rc = fam == AF_INET6 ? getsockopt(fd, IPPROTO_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len)
                           : getsockopt(fd, IPPROTO_IP, SO_ORIGINAL_DST, &ss, &len);
  if (rc != 0) ThrowErrno(env, "getsockopt(SO_ORIGINAL_DST)", errno);
  char buf[INET6_ADDRSTRLEN] = {};
  int port;
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<struct sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    port = ntohs(a->sin6_port);
  } else {
    auto* a = reinterpret_cast<struct sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    port = ntohs(a->sin_port);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", std::string(buf));
  o.Set("port", port);
  return o;
}

// setsockoptInt(fd, level, name, value) / getsockoptInt(fd, level, name)
Napi::Value SetsockoptInt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info);
  int level = static_cast<int>(ArgInt(info, 1, "level"));
  int name = static_cast<int>(ArgInt(info, 2, "name"));
  int value = static_cast<int>(ArgInt(info, 3, "value"));
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) ThrowErrno(env, "setsockopt", errno);
  return env.Undefined();
}
Napi::Value GetsockoptInt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info);
  int level = static_cast<int>(ArgInt(info, 1, "level"));
  int name = static_cast<int>(ArgInt(info, 2, "name"));
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, level, name, &value, &len) != 0) ThrowErrno(env, "getsockopt", errno);
  return Napi::Number::New(env, value);
}

// runInNetns(nsPath, fn): run fn synchronously with this thread inside another network
// namespace (e.g. /run/netns/NAME), then return to the original one. Lets a caller
// resolve ifindexes and create tcx links on devices that live in that namespace.
Napi::Value RunInNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "nsPath");
  if (info.Length() < 2 || !info[1].IsFunction()) ThrowType(env, "fn must be a function");
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) ThrowErrno(env, "open(/proc/thread-self/ns/net)", errno);
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    ::close(self);
    ThrowErrno(env, "open(" + path + ")", err);
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    ::close(self);
    ::close(target);
    ThrowErrno(env, "setns(" + path + ")", err);
  }
  ::close(target);
  Napi::Value result;
  try {
    result = info[1].As<Napi::Function>().Call({});
  } catch (...) {
    setns(self, CLONE_NEWNET);
    ::close(self);
    throw;
  }
  int rc = setns(self, CLONE_NEWNET);
  int err = errno;
  ::close(self);
  if (rc != 0) ThrowErrno(env, "setns(back to the original namespace)", err);
  return result;
}

Napi::Value IfNameToIndex(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) ThrowErrno(info.Env(), "if_nametoindex(" + name + ")", errno);
  return Napi::Number::New(info.Env(), idx);
}

Napi::Value PossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowErrno(info.Env(), "libbpf_num_possible_cpus", n);
  return Napi::Number::New(info.Env(), n);
}

Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

Napi::Value SetDebug(const Napi::CallbackInfo& info) {
  g_debug = info.Length() > 0 && info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  libbpf_set_print(PrintFn);
  libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
  auto* ctors = new Ctors();
  Napi::Function object = BpfObject::Init(env);
  Napi::Function map = BpfMap::Init(env);
  Napi::Function program = BpfProgram::Init(env);
  Napi::Function link = BpfLink::Init(env);
  Napi::Function ring = RingBuffer::Init(env);
  ctors->object = Napi::Persistent(object);
  ctors->map = Napi::Persistent(map);
  ctors->program = Napi::Persistent(program);
  ctors->link = Napi::Persistent(link);
  ctors->ring = Napi::Persistent(ring);
  env.SetInstanceData<Ctors>(ctors);
  napi_env raw = env;
  env.AddCleanupHook([raw] { CloseAll(raw); });

  exports.Set("BpfObject", object);
  exports.Set("BpfMap", map);
  exports.Set("BpfProgram", program);
  exports.Set("BpfLink", link);
  exports.Set("RingBuffer", ring);
  exports.Set("setTcpMd5Sig", Napi::Function::New(env, SetTcpMd5Sig));
  exports.Set("setIpTransparent", Napi::Function::New(env, SetIpTransparent));
  exports.Set("getOriginalDst", Napi::Function::New(env, GetOriginalDst));
  exports.Set("setsockoptInt", Napi::Function::New(env, SetsockoptInt));
  exports.Set("getsockoptInt", Napi::Function::New(env, GetsockoptInt));
  exports.Set("runInNetns", Napi::Function::New(env, RunInNetns));
  exports.Set("ifNameToIndex", Napi::Function::New(env, IfNameToIndex));
  exports.Set("possibleCpus", Napi::Function::New(env, PossibleCpus));
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion));
  exports.Set("setDebug", Napi::Function::New(env, SetDebug));
  return exports;
}

}  // namespace

NODE_API_MODULE(meridian_native, Init)
