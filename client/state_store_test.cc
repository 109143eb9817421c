#include "client/state_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

namespace parley::client {
namespace {

std::string TempPath(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("parley-client-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

TEST(StateStoreTest, MissingFileIsAnEmptyState) {
  auto s = LoadState(TempPath("does-not-exist.json"));
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->cursor.empty());
  EXPECT_TRUE(s->seqs.empty());
}

TEST(StateStoreTest, RoundTripsWithPrivateMode) {
  std::string path = TempPath("sub/dir/state.json");
  ClientState state;
  state.cursor = "41";
  state.seqs["d:alice:bob"] = 7;
  state.outbox.push_back(boost::json::object{{"op", "send"}, {"client_msg_id", "c1"}});
  ASSERT_TRUE(SaveState(path, state).ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = LoadState(path);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->cursor, "41");
  EXPECT_EQ(loaded->seqs.at("d:alice:bob"), 7u);
  ASSERT_EQ(loaded->outbox.size(), 1u);
  EXPECT_EQ(loaded->outbox[0].at("client_msg_id").as_string(), "c1");
}

TEST(StateStoreTest, CorruptFileIsAnError) {
  std::string path = TempPath("corrupt.json");
  ASSERT_TRUE(WritePrivateFile(path, "{not json").ok());
  EXPECT_FALSE(LoadState(path).ok());
}

}  // namespace
}  // namespace parley::client
