#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory_resource>
#include <string>
#include <vector>

#include "test_util.hpp"

#include "faceid/core/binary.hpp"
#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/runtime/template_store.hpp"

using faceid::ByteReader;
using faceid::ByteWriter;
using faceid::LengthPrefix;
using faceid::SealedView;
using faceid::test::bad_input_message;

namespace {

// Little-endian bytes written by hand, independently of ByteWriter.
std::string le(uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  return out;
}

std::string le_str(const std::string& s) { return le(s.size(), 4) + s; }

std::string le_f32(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return le(bits, 4);
}

uint64_t fnv1a64(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::string sealed_by_hand(const char* magic, uint32_t version, const std::string& payload) {
  return std::string(magic, 8) + le(version, 4) + le(payload.size(), 8) + le(fnv1a64(payload), 8) +
         payload;
}

// A memory resource that fills what it hands out with 0xa5 and, when it gets a block back, notes
// whether every byte of it is zero: so a test sees whether a writer wiped a buffer before freeing
// it, without touching freed memory.
class WipeCheckingResource : public std::pmr::memory_resource {
 public:
  size_t allocations = 0;
  size_t returned_wiped = 0;
  size_t returned_unwiped = 0;

 private:
  void* do_allocate(size_t bytes, size_t alignment) override {
    void* p = std::pmr::new_delete_resource()->allocate(bytes, alignment);
    std::memset(p, 0xa5, bytes);
    ++allocations;
    return p;
  }
  void do_deallocate(void* p, size_t bytes, size_t alignment) override {
    const auto* c = static_cast<const unsigned char*>(p);
    bool zero = true;
    for (size_t i = 0; i < bytes; ++i) zero = zero && c[i] == 0;
    ++(zero ? returned_wiped : returned_unwiped);
    std::pmr::new_delete_resource()->deallocate(p, bytes, alignment);
  }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }
};

// Writes `size` bytes one at a time, so that the writer grows many times.
void write_secret(ByteWriter& w, size_t size) {
  for (size_t i = 0; i < size; ++i) w.put_u8(static_cast<uint8_t>(0x30 + i % 64));
}

}  // namespace

TEST_CASE("binary: every type round-trips, little-endian", "[binary]") {
  ByteWriter w;
  w.put_u8(0xab);
  w.put_u16(0xbeef);
  w.put_u32(0xdeadbeef);
  w.put_u64(0x0123456789abcdefull);
  w.put_f32(-1.5f);
  w.put_f32(std::numeric_limits<float>::infinity());
  w.put_f64(0.1);
  w.put_f64(-0.0);
  w.put_str("key", LengthPrefix::u16);
  w.put_str(std::string("a\0b", 3), LengthPrefix::u32);
  w.put_str("", LengthPrefix::u64);
  w.put_bytes("raw", 3);
  const std::string bytes = w.take();
  CHECK(w.size() == 0);
  CHECK(bytes.substr(0, 15) == std::string("\xab\xef\xbe\xef\xbe\xad\xde\xef\xcd\xab\x89\x67\x45\x23\x01", 15));
  CHECK(bytes.size() == 1 + 2 + 4 + 8 + 4 + 4 + 8 + 8 + (2 + 3) + (4 + 3) + 8 + 3);

  ByteReader r(bytes, "test");
  CHECK(r.u8("a") == 0xab);
  CHECK(r.u16("a") == 0xbeef);
  CHECK(r.u32("a") == 0xdeadbeef);
  CHECK(r.u64("a") == 0x0123456789abcdefull);
  CHECK(r.f32("a") == -1.5f);
  CHECK(std::isinf(r.f32("a")));
  CHECK(r.f64("a") == 0.1);
  const double negative_zero = r.f64("a");
  CHECK((negative_zero == 0.0 && std::signbit(negative_zero)));
  CHECK(r.str(LengthPrefix::u16, "a") == "key");
  CHECK(r.str(LengthPrefix::u32, "a") == std::string("a\0b", 3));
  CHECK(r.str(LengthPrefix::u64, "a").empty());
  CHECK(r.offset() == bytes.size() - 3);
  CHECK(r.bytes(3, "a") == "raw");
  CHECK(r.done());
  CHECK(r.left() == 0);

  ByteWriter floats;
  floats.put_f32(0.5f);
  CHECK(floats.view() == le_f32(0.5f));
  const std::string forty(40, '\x01');  // a reader views its bytes: they must outlive it
  ByteReader many(forty, "test");
  CHECK(many.array(5, 8, "rows").size() == 40);
}

TEST_CASE("binary: truncated or oversized input is a bad_input naming what was read", "[binary]") {
  CHECK(bad_input_message([] { ByteReader(std::string("\x01\x02", 2), "ctx").u32("the count"); }) ==
        "ctx: the count needs 4 bytes at offset 0, 2 left");
  CHECK(bad_input_message([] { ByteReader("", "ctx").u8("a flag"); }) ==
        "ctx: a flag needs 1 bytes at offset 0, 0 left");
  CHECK(bad_input_message([] { ByteReader("ab", "ctx").str(LengthPrefix::u32, "a name"); }) ==
        "ctx: the length of a name needs 4 bytes at offset 0, 2 left");
  CHECK(bad_input_message([] {
          ByteReader(std::string("\xff\xff\xff\xff" "ab", 6), "ctx").str(LengthPrefix::u32, "a name");
        }) == "ctx: a name needs 4294967295 bytes at offset 4, 2 left");
  CHECK(bad_input_message([] {
          const std::string nine(9, 'x');
          ByteReader r(nine, "ctx");
          r.u64("a number");
          r.f64("a double");
        }) == "ctx: a double needs 8 bytes at offset 8, 1 left");
  // A count whose byte size overflows 64 bits is refused, not wrapped around.
  CHECK(bad_input_message([] {
          ByteReader("abcd", "ctx").array(uint64_t{1} << 62, 8, "rows");
        }) == "ctx: rows needs 4611686018427387904 x 8 bytes at offset 0, 4 left");
  CHECK(bad_input_message([] { ByteReader("abcd", "ctx").bytes(5, "the data"); }) ==
        "ctx: the data needs 5 bytes at offset 0, 4 left");

  ByteWriter w;
  try {
    w.put_str(std::string(70000, 'k'), LengthPrefix::u16);
    FAIL("a string longer than its prefix was written");
  } catch (const faceid::Error& e) {
    CHECK(e.code() == faceid::Errc::internal);
  }
}

TEST_CASE("binary: a sensitive writer wipes every buffer it gives back", "[binary]") {
  SECTION("growing and taking") {
    WipeCheckingResource memory;
    ByteWriter w(ByteWriter::Mode::sensitive, &memory);
    write_secret(w, 5000);
    CHECK(memory.allocations >= 6);  // it grew at least 64 -> 128 -> ... -> 8192
    CHECK(memory.returned_wiped == memory.allocations - 1);
    const std::string taken = w.take();
    CHECK(taken.size() == 5000);
    CHECK(taken[4999] == static_cast<char>(0x30 + 4999 % 64));
    CHECK(memory.returned_wiped == memory.allocations);
    CHECK(memory.returned_unwiped == 0);
  }
  SECTION("destroyed, reserved and moved") {
    WipeCheckingResource memory;
    {
      ByteWriter w(ByteWriter::Mode::sensitive, &memory);
      write_secret(w, 100);
      w.reserve(10000);
      ByteWriter moved(std::move(w));
      write_secret(moved, 10);
      ByteWriter other(ByteWriter::Mode::sensitive, &memory);
      write_secret(other, 10);
      other = std::move(moved);  // other's own buffer is wiped and freed here
      CHECK(other.size() == 110);
    }
    CHECK(memory.allocations >= 3);
    CHECK(memory.returned_wiped == memory.allocations);
    CHECK(memory.returned_unwiped == 0);
  }
  SECTION("a plain writer does not wipe (the check above can fail)") {
    WipeCheckingResource memory;
    {
      ByteWriter w(ByteWriter::Mode::plain, &memory);
      write_secret(w, 1000);
    }
    CHECK(memory.returned_unwiped == memory.allocations);
  }
}

TEST_CASE("binary: wipe clears a string", "[binary]") {
  std::string secret = "0123456789abcdefghijklmnop";
  const char* data = secret.data();
  const size_t size = secret.size();
  faceid::wipe(secret);
  CHECK(secret.empty());
  CHECK(std::string(data, size) == std::string(size, '\0'));  // same buffer, capacity kept
}

TEST_CASE("binary: FNV-1a 64", "[binary]") {
  faceid::Fnv1a64 empty;
  CHECK(empty.digest() == 0xcbf29ce484222325ull);
  faceid::Fnv1a64 a;
  a.update("a", 1);
  CHECK(a.digest() == 0xaf63dc4c8601ec8cull);
  faceid::Fnv1a64 with_terminator, by_hand;
  with_terminator.update(std::string("ab"));
  by_hand.update("ab", 3);
  CHECK(with_terminator.digest() == by_hand.digest());
}

TEST_CASE("binary: seal, unseal and inspect_sealed", "[binary]") {
  const char* magic = "TESTMAGC";
  const std::string payload = "some payload \x01\x02";
  const std::string file = faceid::seal(magic, 2, payload);
  CHECK(file == sealed_by_hand(magic, 2, payload));
  CHECK(file.size() == faceid::kSealedHeaderSize + payload.size());
  CHECK(faceid::unseal(file, magic, 2, "f.bin", "thing") == payload);

  auto msg = [&](const std::string& bytes) {
    return bad_input_message([&] { faceid::unseal(bytes, magic, 2, "f.bin", "thing"); });
  };
  CHECK(msg(file.substr(0, 10)) == "f.bin: corrupt thing (truncated: 10 bytes, the header alone is 28)");
  CHECK(msg("short") == "f.bin: corrupt thing (truncated: 5 bytes, the header alone is 28)");
  CHECK(msg("X" + file.substr(1)) == "f.bin: not a faceid thing (bad magic)");
  CHECK(msg(faceid::seal(magic, 3, payload)) == "f.bin: thing format version 3, expected 2");
  CHECK(msg(file + "x") == fmt::format("f.bin: corrupt thing (payload is {} bytes, header says {})",
                                       payload.size() + 1, payload.size()));
  CHECK(msg(file.substr(0, file.size() - 1)) ==
        fmt::format("f.bin: corrupt thing (payload is {} bytes, header says {})",
                    payload.size() - 1, payload.size()));
  std::string flipped = file;
  flipped[flipped.size() - 3] ^= 0x08;
  CHECK(msg(flipped) == "f.bin: corrupt thing (checksum mismatch)");

  using Fault = SealedView::Fault;
  for (uint32_t version = 1; version <= 3; ++version) {
    const SealedView v = faceid::inspect_sealed(faceid::seal(magic, version, payload), magic, 1, 3);
    CHECK(v.fault == Fault::none);
    CHECK(v.version == version);
  }
  const std::string v4 = faceid::seal(magic, 4, payload);
  const SealedView too_new = faceid::inspect_sealed(v4, magic, 1, 3);
  CHECK(too_new.fault == Fault::bad_version);
  CHECK(too_new.version == 4);
  CHECK(faceid::inspect_sealed("TEST", magic, 1, 3).fault == Fault::short_header);
  CHECK(faceid::inspect_sealed("TESX", magic, 1, 3).fault == Fault::bad_magic);
  CHECK(faceid::inspect_sealed("", magic, 1, 3).fault == Fault::short_header);
  const SealedView longer = faceid::inspect_sealed(file + "xy", magic, 1, 3);
  CHECK(longer.fault == Fault::long_payload);
  CHECK(longer.payload_size == payload.size());
  CHECK(longer.payload.size() == payload.size() + 2);

  faceid::ByteWriter sensitive(ByteWriter::Mode::sensitive);
  sensitive.reserve(faceid::kSealedHeaderSize + payload.size());
  faceid::write_sealed(sensitive, magic, 2, payload);
  CHECK(sensitive.take() == file);
}

TEST_CASE("binary: a version-3 template store written byte by byte loads and is rewritten as version 4",
          "[binary][template_store]") {
  const std::string created = "2024-05-01T12:00:00Z";
  const std::string payload = le_str("fp123") + le_str(created) + le(2, 4) + le(1, 4) +
                              le_str("alice") + le_str(created) + le(1, 4) + le(1, 4) +
                              le_f32(0.6f) + le_f32(0.8f) + le_f32(1.0f) + le_f32(0.0f) +
                              le(2, 4) + le(0, 4) + le(7, 8);
  const std::string bytes = sealed_by_hand("FACEIDTS", 3, payload);
  const faceid::TemplateStore store = faceid::TemplateStore::deserialize(bytes, "golden");
  CHECK(store.fingerprint() == "fp123");
  CHECK(store.created_utc() == created);
  CHECK(store.dim() == 2);
  CHECK(store.list() == std::vector<std::string>{"alice"});
  const auto& alice = store.get("alice");
  CHECK(alice.enrolled(0, 0) == 0.6f);
  CHECK(alice.enrolled(0, 1) == 0.8f);
  CHECK(alice.adaptive.rows() == 1);
  CHECK(alice.adaptive(0, 0) == 1.0f);
  CHECK(store.lockout().consecutive_failures == 2);
  CHECK_FALSE(store.lockout().locked);
  CHECK(store.generation() == 7);
  // Written back as version 4 (the byte-exact version-4 layout: tests/test_template_store.cpp).
  CHECK(static_cast<uint8_t>(store.serialize()[8]) == 4);
  CHECK(store.get("alice").liveness_model.empty());

  // A payload cut short names the field that is missing.
  const std::string cut = le_str("fp123") + le_str(created) + le(2, 4);
  CHECK(bad_input_message([&] {
          faceid::TemplateStore::deserialize(sealed_by_hand("FACEIDTS", 3, cut), "golden");
        }) == "golden: truncated template store: the user count needs 4 bytes at offset 37, 0 left");
  // A forged row count is refused before anything is allocated for it.
  const std::string forged = le_str("fp") + le_str(created) + le(0xffffffff, 4) + le(1, 4) +
                             le_str("alice") + le_str(created) + le(0xffffffff, 4) + le(0, 4);
  CHECK_THAT(bad_input_message([&] {
               faceid::TemplateStore::deserialize(sealed_by_hand("FACEIDTS", 3, forged), "golden");
             }),
             Catch::StartsWith("golden: truncated template store: embedding values needs "
                               "18446744065119617025 x 4 bytes"));
}

TEST_CASE("binary: a version-1 template store (fuzz corpus file) still loads", "[binary][template_store]") {
  // Byte 0 is the fuzz target's mode (even: the rest is the whole plaintext file).
  const std::string corpus = faceid::read_file(std::string(FACEID_SOURCE_DIR) +
                                               "/tests/fuzz/corpus/template_store/file_two_users");
  const std::string v1 = corpus.substr(1);
  REQUIRE(static_cast<uint8_t>(v1[8]) == 1);
  const faceid::TemplateStore store = faceid::TemplateStore::deserialize(v1, "v1");
  CHECK(store.list() == std::vector<std::string>{"alice", "bob"});
  CHECK(store.dim() == 4);
  CHECK(store.generation() == 0);
  CHECK(store.lockout().consecutive_failures == 0);
  const std::string v3 = store.serialize();
  CHECK(static_cast<uint8_t>(v3[8]) == faceid::TemplateStore::kFormatVersion);
  CHECK(faceid::TemplateStore::deserialize(v3, "v3").serialize() == v3);
}
