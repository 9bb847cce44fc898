// enroll: add a user's templates (several head poses) to a template store.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "faceid/app.hpp"
#include "faceid/error.hpp"
#include "faceid/infer/embed_dataset.hpp"
#include "faceid/infer/enrollment.hpp"
#include "faceid/infer/store_key.hpp"
#include "faceid/infer/template_store.hpp"
#include "faceid/memory.hpp"

int main(int argc, char** argv) {
  // Activations are reused from the heap instead of mmap'ed afresh each step (faceid/memory.hpp).
  faceid::keep_freed_memory_in_heap();
  CLI::App cli{"Enroll a user into a template store from several frames (head poses), or list / "
               "remove users.", "enroll"};
  std::string checkpoint, store_dir, key_file, user, device = "auto";
  std::vector<std::string> frames;
  bool replace = false, list = false, remove = false;
  cli.add_option("--checkpoint", checkpoint, "Checkpoint whose embeddings the store holds");
  cli.add_option("--store", store_dir, "Template store folder (created when missing)")->required();
  cli.add_option("--key-file", key_file,
                 "Store key file, mode 0600 (default: $FACEID_STORE_KEY when set, else "
                 "<store>/store.key, created with a random key on the first enrollment)");
  cli.add_option("--user", user, "User name");
  cli.add_option("--frames", frames, "Depth files NNN_K_d.dat|png (colour beside) or person folders");
  cli.add_option("--device", device, "auto | cpu | cuda[:N]")->capture_default_str();
  cli.add_flag("--replace", replace, "Re-enroll an existing user");
  cli.add_flag("--list", list, "List the enrolled users and exit");
  cli.add_flag("--remove", remove, "Remove --user from the store and exit");
  return faceid::run_app(cli, argc, argv, [&] {
    const std::filesystem::path store_file =
        std::filesystem::path(store_dir) / faceid::TemplateStore::kFileName;
    const bool store_exists = std::filesystem::exists(store_file);
    if (list) {
      const faceid::StoreKey key = faceid::StoreKey::resolve(store_dir, key_file, false);
      const faceid::TemplateStore store = faceid::TemplateStore::load(store_dir, key);
      std::printf("template store %s: model %s, %zu user(s)\n", store_dir.c_str(),
                  store.fingerprint().c_str(), store.size());
      for (const auto& name : store.list()) {
        const auto& u = store.get(name);
        std::printf("  %s: %lld enrolled + %lld adaptive templates, enrolled %s\n", name.c_str(),
                    static_cast<long long>(u.enrolled.rows()),
                    static_cast<long long>(u.adaptive.rows()), u.created_utc.c_str());
      }
      return faceid::kExitOk;
    }
    if (user.empty()) faceid::throw_bad_input("--user is required");
    if (remove) {
      const faceid::StoreKey key = faceid::StoreKey::resolve(store_dir, key_file, false);
      faceid::TemplateStore store = faceid::TemplateStore::load(store_dir, key);
      if (!store.remove(user)) {
        faceid::throw_bad_input(fmt::format("template store {}: no user '{}'", store_dir, user));
      }
      store.save(store_dir, key);
      std::printf("removed %s from %s\n", user.c_str(), store_dir.c_str());
      return faceid::kExitOk;
    }
    if (checkpoint.empty() || frames.empty()) {
      faceid::throw_bad_input("enrollment needs --checkpoint and --frames");
    }
    // A new key only for a new store: a missing key for an existing store is an error.
    const faceid::StoreKey key = faceid::StoreKey::resolve(store_dir, key_file, !store_exists);
    faceid::TemplateStore store = faceid::TemplateStore::open(store_dir, key);
    faceid::Embedder embedder(checkpoint, device);
    if (!store.fingerprint().empty()) store.require_fingerprint(embedder.fingerprint());
    faceid::DataConfig dc = embedder.config().data;
    dc.cache_dir.clear();
    dc.max_frames_per_person = 0;
    std::vector<faceid::Embeddings> parts;
    size_t no_face = 0;
    for (const auto& path : frames) {
      const faceid::Dataset ds = faceid::resolve_input(path);
      const faceid::EmbeddedSet set = faceid::embed_dataset(embedder, ds, {}, dc);
      for (const auto& s : set.skipped) {
        std::fprintf(stderr, "enroll: no face in %s: %s\n", s.ref.depth_path.c_str(), s.reason.c_str());
        ++no_face;
      }
      parts.push_back(set.embeddings);
    }
    const faceid::Embeddings all = faceid::stack_rows(parts, embedder.dimension());
    const std::string refusal = faceid::enrollment_refusal(all, embedder.config().unlock);
    if (!refusal.empty()) {
      std::fprintf(stderr, "enroll: enrollment of %s refused: %s\n", user.c_str(), refusal.c_str());
      return faceid::kExitBadInput;
    }
    store.add(user, all, embedder.fingerprint(), replace);
    store.save(store_dir, key);
    std::printf("enrolled %s with %lld templates (%zu frame(s) without a face) into %s\n",
                user.c_str(), static_cast<long long>(all.rows()), no_face, store_dir.c_str());
    return faceid::kExitOk;
  });
}
