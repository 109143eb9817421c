// `parley-cli chat USER|CONV`: an interactive chat on the client library.
// One thread owns the terminal: it polls stdin and a pipe the client's io
// thread writes to when an event is queued, so incoming messages are printed
// above the readline prompt without racing it. Without a terminal on stdin
// it reads plain lines (scripts: `printf 'hi\n/quit\n' | parley-cli chat bob`).
#include <poll.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <set>

#include "client/cli/chat_view.h"
#include "client/cli/commands.h"
#include "client/client.h"

namespace parley::client::cli {
namespace {

using Clock = std::chrono::steady_clock;

class ChatSession;
ChatSession* g_session = nullptr;  // for readline's C callback

class ChatSession {
 public:
  ChatSession(Context& ctx, Api api, ChatView view)
      : ctx_(ctx), api_(std::move(api)), view_(std::move(view)), tty_(isatty(STDIN_FILENO)) {}

  int Run() {
    if (pipe(wake_) != 0) return Fail("chat", Internal("pipe failed"));
    ClientOptions options;
    options.server = ctx_.server;
    options.token = ctx_.config.token;
    options.state_file = StatePathFor(ctx_.config_path, ctx_.config.user_id);
    options.on_event = [this](const Event& e) { Queue(e); };
    client_ = std::make_unique<Client>(options);
    std::string error;
    if (!client_->Start(&error)) return Fail("chat", BadRequest(error));
    PrintIntro();
    if (tty_) {
      g_session = this;
      rl_callback_handler_install(Prompt().c_str(), [](char* line) { g_session->OnLine(line); });
    }
    Loop();
    if (tty_) rl_callback_handler_remove();
    return Finish();
  }

 private:
  void Queue(const Event& e) {
    {
      std::lock_guard lock(mu_);
      events_.push_back(e);
    }
    (void)!write(wake_[1], "x", 1);
  }

  void Loop() {
    while (!quit_) {
      pollfd fds[2] = {{wake_[0], POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
      int n = poll(fds, stdin_open_ ? 2 : 1, 1000);
      if (n > 0 && (fds[0].revents & POLLIN)) {
        char buf[256];
        (void)!read(wake_[0], buf, sizeof buf);
      }
      DrainEvents();
      if (n > 0 && stdin_open_ && (fds[1].revents & (POLLIN | POLLHUP))) ReadInput();
      view_.ExpireTyping(Clock::now());
      RefreshPrompt();
    }
  }

  void ReadInput() {
    if (tty_) {
      rl_callback_read_char();
      MaybeSendTyping();
      return;
    }
    char buf[4096];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) {
      if (!line_buf_.empty()) HandleLine(line_buf_);
      stdin_open_ = false;
      quit_ = true;  // end of input: like /quit
      return;
    }
    line_buf_.append(buf, static_cast<size_t>(n));
    for (size_t nl; (nl = line_buf_.find('\n')) != std::string::npos;) {
      std::string line = line_buf_.substr(0, nl);
      line_buf_.erase(0, nl + 1);
      HandleLine(line);
    }
  }

  void OnLine(char* line) {
    if (line == nullptr) {  // Ctrl-D
      quit_ = true;
      return;
    }
    std::string text(line);
    free(line);
    if (!text.empty()) add_history(text.c_str());
    std::cout << "\033[1A\033[2K\r"
              << std::flush;  // the echoed input line: printed again when sent
    in_handler_ = true;       // readline still holds the accepted line: print plainly
    HandleLine(text);
    in_handler_ = false;
  }

  void HandleLine(const std::string& line) {
    if (line.empty()) return;
    if (line[0] == '/') return HandleCommand(line);
    if (view_.conversation().empty() && view_.peer().empty()) return;
    Target to = view_.conversation().empty() ? Target::User(view_.peer())
                                             : Target::Conversation(view_.conversation());
    view_.ExpectOwn(client_->Send(to, line));
    if (typing_sent_) client_->SetTyping(view_.conversation(), false);
    typing_sent_ = false;
    if (!client_->live()) Print("  (queued until connected) " + line);
  }

  void HandleCommand(const std::string& line) {
    std::string cmd = line.substr(0, line.find(' '));
    std::string arg = line.size() > cmd.size() ? line.substr(cmd.size() + 1) : "";
    if (cmd == "/quit" || cmd == "/exit") {
      quit_ = true;
    } else if (cmd == "/help") {
      Print(ChatView::Help());
    } else if (cmd == "/history") {
      ShowHistory(arg.empty() ? 20 : std::max(1, std::atoi(arg.c_str())));
    } else if (cmd == "/members") {
      ShowMembers();
    } else if (cmd == "/read") {
      if (view_.last_seq() > 0) client_->MarkRead(view_.conversation(), view_.last_seq());
    } else {
      Print("unknown command " + cmd + " (try /help)");
    }
  }

  void ShowHistory(int limit) {
    if (view_.conversation().empty()) return Print("(no messages yet)");
    auto page = api_.History(view_.conversation(), HistoryQuery{0, 0, limit});
    if (!page.ok()) return Print("! history: " + page.status().message());
    for (const auto& m : page->at("messages").as_array()) Print(view_.Format(m.as_object()));
  }

  void ShowMembers() {
    if (!view_.is_group()) return Print("members: " + ctx_.config.user_id + ", " + view_.peer());
    auto group = api_.GetGroup(view_.conversation());
    if (!group.ok()) return Print("! members: " + group.status().message());
    Print(ChatView::DescribeMembers(group->as_object()));
  }

  void DrainEvents() {
    std::deque<Event> events;
    {
      std::lock_guard lock(mu_);
      events.swap(events_);
    }
    for (const Event& e : events) {
      for (const std::string& line : view_.OnEvent(e, Clock::now())) Print(line);
      if (e.type == EventType::kMessage && view_.Mine(e) && client_->live() &&
          Str(e.frame, "sender") != ctx_.config.user_id) {
        client_->MarkRead(e.conversation_id, e.seq);
      }
      if (e.type == EventType::kConnected && !subscribed_ && !view_.watch().empty()) {
        client_->SubscribePresence(view_.watch());
        subscribed_ = true;
      }
      if (e.type == EventType::kGaveUp) {
        gave_up_ = e.detail;
        quit_ = true;
      }
    }
  }

  void MaybeSendTyping() {
    if (view_.conversation().empty() || rl_end == 0) return;
    auto now = Clock::now();
    if (typing_sent_ && now - typing_at_ < std::chrono::seconds(3)) return;
    client_->SetTyping(view_.conversation(), true);
    typing_sent_ = true;
    typing_at_ = now;
  }

  std::string Prompt() const { return view_.Prompt(); }

  void RefreshPrompt() {
    if (!tty_) return;
    std::string prompt = Prompt();
    if (prompt == shown_prompt_) return;
    shown_prompt_ = prompt;
    rl_set_prompt(prompt.c_str());
    rl_redisplay();
  }

  // Prints a line above the prompt, keeping what the user is typing.
  void Print(const std::string& text) {
    if (!tty_ || in_handler_) {
      std::cout << text << "\n" << std::flush;
      return;
    }
    int point = rl_point;
    char* saved = rl_copy_text(0, rl_end);
    rl_save_prompt();
    rl_replace_line("", 0);
    rl_redisplay();
    std::cout << "\r\033[2K" << text << "\n" << std::flush;
    rl_restore_prompt();
    rl_replace_line(saved, 0);
    rl_point = point;
    rl_redisplay();
    free(saved);
  }

  void PrintIntro() {
    Print(view_.Title() + " — /help for commands");
    ShowHistory(20);
    for (const auto& line : view_.ReceiptSummary()) Print(line);
  }

  // Waits (bounded) for queued sends, then stops the client.
  int Finish() {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (client_->pending_sends() > 0 && gave_up_.empty() && Clock::now() < deadline) {
      pollfd fd{wake_[0], POLLIN, 0};
      if (poll(&fd, 1, 200) > 0) {
        char buf[256];
        (void)!read(wake_[0], buf, sizeof buf);
      }
      DrainEvents();
    }
    size_t unsent = client_->pending_sends();
    client_->Stop();
    DrainEvents();
    close(wake_[0]);
    close(wake_[1]);
    if (!gave_up_.empty()) {
      bool auth = gave_up_.find("401") != std::string::npos;
      return Fail("chat",
                  auth ? Unauthorized(gave_up_ + " (log in again)") : Unavailable(gave_up_));
    }
    if (unsent > 0) {
      std::cerr << "parley-cli: chat: " << unsent
                << " message(s) not sent yet; they stay queued and go out the next time you chat\n";
      return kExitUnreachable;
    }
    return kExitOk;
  }

  Context& ctx_;
  Api api_;
  ChatView view_;
  const bool tty_;
  std::unique_ptr<Client> client_;
  int wake_[2] = {-1, -1};
  std::mutex mu_;
  std::deque<Event> events_;  // guarded by mu_
  std::string line_buf_, shown_prompt_, gave_up_;
  bool quit_ = false, in_handler_ = false, stdin_open_ = true, subscribed_ = false,
       typing_sent_ = false;
  Clock::time_point typing_at_;
};

}  // namespace

int RunChat(Context& ctx, const std::string& target) {
  auto api = ctx.AuthedApi();
  if (!api.ok()) return Fail("chat", api.status());
  auto view = ChatView::Make(*api, ctx.config.user_id, target);
  if (!view.ok()) return Fail("chat", view.status());
  ChatSession session(ctx, std::move(*api), std::move(*view));
  return session.Run();
}

}  // namespace parley::client::cli
