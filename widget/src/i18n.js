// Every visitor-facing string, in two tables: LAUNCHER (the launcher, its badge and the invitation
// card: bundled into widget.js) and STRINGS (the chat panel: only in widget-chat.js, loaded when
// the chat is first opened). The language follows the browser (navigator.languages): zh* →
// Simplified Chinese, otherwise English.
// Accessible names of the launcher keep the word "chat" in every language.
// Do not put the word "message" into the accessible name of anything inside the panel other
// than the text box: people (and tests) find the box by its label "Message".
export const LAUNCHER = {
  en: {
    openChat: "Open chat",
    closeChat: "Close chat",
    unread: (n) => (n === 1 ? "1 unread message" : `${n} unread messages`),
    invitation: "Chat invitation",
    accept: "Accept",
    decline: "Decline",
    dismiss: "Dismiss invitation",
  },
  "zh-CN": {
    openChat: "打开聊天 (chat)",
    closeChat: "关闭聊天 (chat)",
    unread: (n) => `${n} 条未读消息`,
    invitation: "聊天邀请 (Chat invitation)",
    accept: "接受",
    decline: "拒绝",
    dismiss: "关闭邀请",
  },
};

const STRINGS = {
  en: {
    minimize: "Minimize chat",
    dialog: "Chat",
    title: "Chat with us",
    subtitle: "We usually reply in a few minutes.",
    withAgent: (name) => `You're chatting with ${name}`,
    waiting: "Waiting for the next available person…",
    queuePlace: (n, minutes) =>
      (n === 1 ? "You're next in line" : `You're number ${n} in line`) +
      (minutes === null ? "" : minutes <= 1 ? " · about a minute" : ` · about ${minutes} minutes`),
    department: "Topic",
    offlineNotice: "Nobody can chat right now: you can still write, or leave a note.",
    longWait: "Sorry for the wait. You can keep waiting, or leave a note.",
    offlineOpen: "Leave a note instead",
    offlineBack: "Back to chat",
    offlineIntro: "Leave a note and we'll reply by email.",
    offlineName: "Your name (optional)",
    offlineEmail: "Your email",
    offlineBody: "How can we help?",
    offlineSend: "Send to the team",
    offlineThanks: (email) => `Thanks! We'll reply to ${email}.`,
    emailRequired: "Please enter your email address so we can reply.",
    rateTitle: "How was this chat?",
    rateGroup: "Rate this chat",
    good: "Good",
    neutral: "Neutral",
    bad: "Bad",
    comment: "Comment (optional)",
    sendRating: "Send rating",
    thanks: "Thanks for your feedback",
    rated: (r) => `Rated: ${r}`,
    anyDepartment: "Anything else",
    log: "Conversation",
    message: "Message",
    placeholder: "Type your message…",
    send: "Send",
    name: "Name (optional)",
    email: "Email (optional)",
    nameRequired: "Name",
    emailRequiredLabel: "Email",
    needName: "Please enter your name to start the chat.",
    needEmail: "Please enter your email address to start the chat.",
    preview: "This is a preview: nothing is sent.",
    you: "You",
    system: "System",
    agent: "Support",
    sending: "Sending…",
    delivered: "Delivered",
    read: "Read",
    typing: (name) => `${name || "Someone"} is typing…`,
    connecting: "Connecting…",
    reconnecting: "Reconnecting… your messages will be sent when we're back.",
    unavailable: "Chat is not available on this page.",
    ended: "This chat has ended. Send a message to start a new one.",
    earlier: "Earlier conversations",
    requests: "Your requests",
    statuses: { new: "Received", assigned: "Being handled", in_progress: "Being handled", waiting: "Waiting for you",
      resolved: "Resolved", closed: "Closed" },
    tooLong: (max) => `Messages can be at most ${max} characters.`,
    tooFast: "You're sending messages too fast. Try again in a moment.",
    error: "Something went wrong. We'll try again.",
    badInput: "This message could not be sent.",
    emailInvalid: "Please enter a valid email address, or leave it empty.",
  },
  "zh-CN": {
    minimize: "最小化聊天 (chat)",
    dialog: "聊天 (Chat)",
    title: "在线咨询",
    subtitle: "我们通常在几分钟内回复。",
    withAgent: (name) => `${name} 正在为您服务`,
    waiting: "正在为您转接客服，请稍候…",
    queuePlace: (n, minutes) =>
      (n === 1 ? "下一位就是您" : `您在队列中排第 ${n} 位`) +
      (minutes === null ? "" : minutes <= 1 ? " · 预计约 1 分钟" : ` · 预计约 ${minutes} 分钟`),
    department: "咨询类别",
    offlineNotice: "客服暂时不在线：您仍可发送消息，或者留言。",
    longWait: "抱歉让您久等了。您可以继续等待，或者留言。",
    offlineOpen: "改为留言",
    offlineBack: "返回聊天",
    offlineIntro: "请留言，我们会通过电子邮件回复您。",
    offlineName: "您的姓名（可选）",
    offlineEmail: "您的电子邮件",
    offlineBody: "请描述您的问题",
    offlineSend: "提交留言",
    offlineThanks: (email) => `谢谢！我们会回复到 ${email}。`,
    emailRequired: "请填写电子邮件地址，以便我们回复。",
    rateTitle: "您对本次服务满意吗？",
    rateGroup: "为本次对话评分",
    good: "满意",
    neutral: "一般",
    bad: "不满意",
    comment: "留言（可选）",
    sendRating: "提交评价",
    thanks: "感谢您的反馈",
    rated: (r) => `评价：${r}`,
    anyDepartment: "其他问题",
    log: "对话",
    message: "消息",
    placeholder: "请输入消息…",
    send: "发送",
    name: "姓名（可选）",
    email: "邮箱（可选）",
    nameRequired: "姓名",
    emailRequiredLabel: "邮箱",
    needName: "请填写您的姓名以开始聊天。",
    needEmail: "请填写您的邮箱地址以开始聊天。",
    preview: "这是预览：不会发送任何内容。",
    you: "我",
    system: "系统",
    agent: "客服",
    sending: "发送中…",
    delivered: "已送达",
    read: "已读",
    typing: (name) => `${name || "对方"}正在输入…`,
    connecting: "正在连接…",
    reconnecting: "正在重新连接…恢复后将自动发送您的消息。",
    unavailable: "此页面无法使用在线咨询。",
    ended: "本次会话已结束。发送消息即可开始新的会话。",
    earlier: "历史会话",
    requests: "您的请求",
    statuses: { new: "已受理", assigned: "处理中", in_progress: "处理中", waiting: "等待您的回复", resolved: "已解决",
      closed: "已关闭" },
    tooLong: (max) => `每条消息最多 ${max} 个字符。`,
    tooFast: "您发送得太快了，请稍后再试。",
    error: "出了点问题，我们会自动重试。",
    badInput: "这条消息无法发送。",
    emailInvalid: "请输入有效的邮箱地址，或留空。",
  },
};

// The first language the browser prefers that we have; English otherwise.
export function pickLanguage(languages) {
  for (const lang of languages || []) {
    const l = String(lang).toLowerCase();
    if (l.startsWith("zh")) return "zh-CN";
    if (l.startsWith("en")) return "en";
  }
  return "en";
}

export function strings(lang) {
  return STRINGS[lang] || STRINGS.en;
}
