// The one page: the chat application (rendered on the client; the export holds its shell).
import ChatApp from "@/components/ChatApp";

export default function Page() {
  return <ChatApp />;
}
