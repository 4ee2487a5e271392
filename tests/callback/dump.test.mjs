// SPDX-License-Identifier: ISC
// Every message type and every event WeCom documents reaches a handler
// with its typed fields (tests/apps/dump.c answers what it saw). The XML
// follows the samples of developer.work.weixin.qq.com (接收消息与事件).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as h from './harness.mjs';

// The enums of include/wecom/wecom.h, by name: WECOM_MSG_TEXT → 1 …
function enums() {
  const src = readFileSync(join(h.ROOT, 'include', 'wecom', 'wecom.h'), 'utf8');
  const out = {};
  for (const m of src.matchAll(/enum\s+\w+\s*\{([^}]*)\}/g)) {
    let n = 0;
    for (const item of m[1].split(',')) {
      const mm = /^\s*(WECOM_\w+)(?:\s*=\s*(\d+))?/.exec(item.replace(/\/\*.*?\*\//g, ''));
      if (!mm) continue;
      if (mm[2] !== undefined) n = Number(mm[2]);
      out[mm[1]] = n++;
    }
  }
  return out;
}
const E = enums();
const T = (name) => String(E[`WECOM_MSG_${name}`]);
const V = (name) => String(E[`WECOM_EVENT_${name}`]);

let srv;
let CORP;
before(async () => { srv = await h.startServer(); CORP = srv.apps.dump.corpid; });
after(async () => { if (srv) await h.stopAndCheck(srv); });

const TIME = 1700000123;

async function dump(fields, { from = 'zhangsan', raw } = {}) {
  const head = { ToUserName: CORP };
  if (from !== null) head.FromUserName = from;
  const xml = raw ?? h.toXml({ ...head, CreateTime: TIME, ...fields });
  return h.dumpFields(await h.callback(srv, 'dump', xml));
}

function expectFields(got, want) {
  for (const [k, v] of Object.entries(want)) {
    if (v === undefined) assert.ok(!(k in got), `${k} should be unset, got ${got[k]}`);
    else assert.equal(got[k], String(v), `field ${k}`);
  }
}

test('enums of wecom.h are read (sanity)', () => {
  assert.equal(E.WECOM_MSG_UNKNOWN, 0);
  assert.equal(E.WECOM_MSG_EVENT, 9);
  assert.equal(E.WECOM_EVENT_UNKNOWN, 1);
  assert.ok(E.WECOM_EVENT_SHARE_AGENT_CHANGE > 20);
});

// ------------------------------------------------------------- messages

const messages = [
  ['text', { MsgType: 'text', Content: '你好 hello', MsgId: '7290011213', AgentID: 1000002 },
    { type: T('TEXT'), event_type: '0', msgtype: 'text', content: '你好 hello', msgid: '7290011213', agentid: 1000002 }],
  ['image', { MsgType: 'image', PicUrl: 'https://wework.qpic.cn/wwpic/1.jpg', MediaId: 'MEDIA_ID_IMG', MsgId: '1234567890123456', AgentID: 1 },
    { type: T('IMAGE'), pic_url: 'https://wework.qpic.cn/wwpic/1.jpg', media_id: 'MEDIA_ID_IMG', msgid: '1234567890123456', agentid: 1 }],
  ['voice', { MsgType: 'voice', MediaId: 'MEDIA_ID_VOICE', Format: 'amr', MsgId: '1234567890123457', AgentID: 1 },
    { type: T('VOICE'), media_id: 'MEDIA_ID_VOICE', format: 'amr' }],
  ['video', { MsgType: 'video', MediaId: 'MEDIA_ID_VIDEO', ThumbMediaId: 'THUMB_ID', MsgId: '1234567890123458', AgentID: 1 },
    { type: T('VIDEO'), media_id: 'MEDIA_ID_VIDEO', thumb_media_id: 'THUMB_ID' }],
  ['shortvideo', { MsgType: 'shortvideo', MediaId: 'MEDIA_ID_SV', ThumbMediaId: 'THUMB_SV', MsgId: '1234567890123459', AgentID: 1 },
    { type: T('SHORTVIDEO'), media_id: 'MEDIA_ID_SV', thumb_media_id: 'THUMB_SV' }],
  ['location', { MsgType: 'location', Location_X: 23.134521, Location_Y: 113.358803, Scale: 20, Label: '广州市海珠区', MsgId: '1234567890123460', AgentID: 1, AppType: 'wxwork' },
    { type: T('LOCATION'), location_x: '23.134521', location_y: '113.358803', scale: 20, label: '广州市海珠区' }],
  ['link', { MsgType: 'link', Title: 'this is a title!', Description: 'this is a description!', Url: 'https://work.weixin.qq.com/', PicUrl: 'https://work.weixin.qq.com/pic.png', MsgId: '1234567890123461', AgentID: 1 },
    { type: T('LINK'), title: 'this is a title!', description: 'this is a description!', url: 'https://work.weixin.qq.com/', pic_url: 'https://work.weixin.qq.com/pic.png' }],
  ['file', { MsgType: 'file', MediaId: 'MEDIA_ID_FILE', MsgId: '1234567890123462', AgentID: 1 },
    { type: T('FILE'), media_id: 'MEDIA_ID_FILE' }],
];

for (const [name, fields, want] of messages) {
  test(`dump: a ${name} message reaches the handler with its typed fields`, async () => {
    const got = await dump(fields);
    expectFields(got, {
      to_user: CORP, from_user: 'zhangsan', create_time: TIME, msgtype: fields.MsgType, event: undefined, ...want,
    });
  });
}

// --------------------------------------------------------------- events

const ev = (Event, rest = {}) => ({ MsgType: 'event', Event, ...rest });
const md5 = ['1b5f7c23b5bf75682a53e7b6d163e185', '6c8a3d2e4f5b6a7c8d9e0f1a2b3c4d5e', 'a1b2c3d4e5f60718293a4b5c6d7e8f90'];

const events = [
  ['subscribe', ev('subscribe', { AgentID: 1 }), { event_type: V('SUBSCRIBE'), event: 'subscribe', agentid: 1 }],
  ['unsubscribe', ev('unsubscribe', { AgentID: 1 }), { event_type: V('UNSUBSCRIBE') }],
  ['enter_agent', ev('enter_agent', { EventKey: '', AgentID: 1 }), { event_type: V('ENTER_AGENT'), event_key: '' }],
  ['LOCATION', ev('LOCATION', { Latitude: 23.104105, Longitude: 113.320107, Precision: 65.000000, AgentID: 1, AppType: 'wxwork' }),
    { event_type: V('LOCATION'), event: 'LOCATION', latitude: '23.104105', longitude: '113.320107', precision: '65.000000' }],
  ['click', ev('click', { EventKey: 'EVENTKEY', AgentID: 1 }), { event_type: V('CLICK'), event_key: 'EVENTKEY' }],
  ['view', ev('view', { EventKey: 'https://work.weixin.qq.com/', AgentID: 1 }), { event_type: V('VIEW'), event_key: 'https://work.weixin.qq.com/' }],
  ['scancode_push', ev('scancode_push', { EventKey: '6', ScanCodeInfo: { ScanType: 'qrcode', ScanResult: '1' }, AgentID: 1 }),
    { event_type: V('SCANCODE_PUSH'), event_key: '6', scan_type: 'qrcode', scan_result: '1' }],
  ['scancode_waitmsg', ev('scancode_waitmsg', { EventKey: '6', ScanCodeInfo: { ScanType: 'barcode', ScanResult: 'EAN_13,6901234567892' }, AgentID: 1 }),
    { event_type: V('SCANCODE_WAITMSG'), scan_type: 'barcode', scan_result: 'EAN_13,6901234567892' }],
  ['pic_sysphoto', ev('pic_sysphoto', { EventKey: '6', SendPicsInfo: { Count: 1, PicList: { item: [{ PicMd5Sum: md5[0] }] } }, AgentID: 1 }),
    { event_type: V('PIC_SYSPHOTO'), pic_count: 1, 'PicMd5Sum[0]': md5[0] }],
  ['pic_photo_or_album', ev('pic_photo_or_album', { EventKey: '6', SendPicsInfo: { Count: 2, PicList: { item: md5.slice(0, 2).map((m) => ({ PicMd5Sum: m })) } }, AgentID: 1 }),
    { event_type: V('PIC_PHOTO_OR_ALBUM'), pic_count: 2, 'PicMd5Sum[0]': md5[0], 'PicMd5Sum[1]': md5[1] }],
  ['pic_weixin (three PicList items)', ev('pic_weixin', { EventKey: '6', SendPicsInfo: { Count: 3, PicList: { item: md5.map((m) => ({ PicMd5Sum: m })) } }, AgentID: 1 }),
    { event_type: V('PIC_WEIXIN'), pic_count: 3, 'PicMd5Sum[0]': md5[0], 'PicMd5Sum[1]': md5[1], 'PicMd5Sum[2]': md5[2], 'PicMd5Sum[3]': undefined }],
  ['location_select', ev('location_select', { EventKey: '6', SendLocationInfo: { Location_X: 23, Location_Y: 113, Scale: 15, Label: ' 广州市海珠区客村艺苑路 106号', Poiname: '客村' }, AgentID: 1, AppType: 'wxwork' }),
    { event_type: V('LOCATION_SELECT'), location_x: '23.000000', location_y: '113.000000', scale: 15, label: ' 广州市海珠区客村艺苑路 106号', poiname: '客村' }],
  ['batch_job_result', ev('batch_job_result', { BatchJob: { JobId: 'S0MrnndvRG5fadSlLwiBqiDDbM143UqTmKP3152FZk4', JobType: 'sync_user', ErrCode: 60123, ErrMsg: 'invalid party id' } }),
    { event_type: V('BATCH_JOB_RESULT'), job_id: 'S0MrnndvRG5fadSlLwiBqiDDbM143UqTmKP3152FZk4', job_type: 'sync_user', job_errcode: 60123 }],
  ['change_contact create_user', ev('change_contact', {
    ChangeType: 'create_user', UserID: 'zhangsan', Name: '张三', Department: '1,2,3', MainDepartment: 1, IsLeaderInDept: '1,0,0',
    DirectLeader: 'lisi,wangwu', Position: '产品经理', Mobile: '13800000000', Gender: 1, Email: 'zhangsan@gzdev.com',
    BizMail: 'zhangsan@qyycs2.wecom.work', Status: 1, Avatar: 'http://wx.qlogo.cn/mmopen/ajNVdqHZLLA3WJ6DSZUfiakYe37PKnQhBIeOQBO4czqrnZDS79FH5Wm5m4X69TBicnHFlhiafvDwklOpZeXYQQ2icg/0',
    Alias: 'zhangsan', Telephone: '020-123456', Address: '广州市',
    ExtAttr: { Item: [{ Name: '爱好', Type: 0, Text: { Value: '旅游' } }, { Name: '卡号', Type: 1, Web: { Title: '企业微信', Url: 'https://work.weixin.qq.com' } }] },
  }), { event_type: V('CHANGE_CONTACT'), change_type: 'create_user', user_id: 'zhangsan', name: '张三', department: '1,2,3', 'count(item)': 0 }],
  ['change_contact update_user', ev('change_contact', {
    ChangeType: 'update_user', UserID: 'zhangsan', NewUserID: 'zhangsan001', Name: '张三', Department: '1,2,3', MainDepartment: 1,
    IsLeaderInDept: '1,0,0', Position: '产品经理', Mobile: '13800000000', Gender: 1, Email: 'zhangsan@gzdev.com', Status: 1,
  }), { change_type: 'update_user', user_id: 'zhangsan', new_user_id: 'zhangsan001', name: '张三' }],
  ['change_contact delete_user', ev('change_contact', { ChangeType: 'delete_user', UserID: 'zhangsan' }),
    { change_type: 'delete_user', user_id: 'zhangsan', name: undefined }],
  ['change_contact create_party', ev('change_contact', { ChangeType: 'create_party', Id: 2, Name: '张三的部门', ParentId: '1', Order: 1 }),
    { change_type: 'create_party', party_id: '2', name: '张三的部门', parent_id: '1' }],
  ['change_contact update_party', ev('change_contact', { ChangeType: 'update_party', Id: 2, Name: '张三的部门', ParentId: '1' }),
    { change_type: 'update_party', party_id: '2', parent_id: '1' }],
  ['change_contact delete_party', ev('change_contact', { ChangeType: 'delete_party', Id: 2 }),
    { change_type: 'delete_party', party_id: '2' }],
  ['change_contact update_tag', ev('change_contact', { ChangeType: 'update_tag', TagId: 1, AddUserItems: 'zhangsan,lisi', DelUserItems: 'zhangsan1,lisi1', AddPartyItems: '1,2', DelPartyItems: '3,4' }),
    { change_type: 'update_tag', tag_id: '1' }],
  ['template_card_event', ev('template_card_event', {
    EventKey: 'key111', TaskId: 'taskid111', CardType: 'vote_interaction', ResponseCode: 'ResponseCode_xyz', AgentID: 1,
    SelectedItems: { SelectedItem: [{ QuestionKey: 'QuestionKey1', OptionIds: { OptionId: ['OptionId1', 'OptionId2'] } }] },
  }), { event_type: V('TEMPLATE_CARD_EVENT'), event_key: 'key111', task_id: 'taskid111', card_type: 'vote_interaction', response_code: 'ResponseCode_xyz' }],
  ['template_card_menu_event', ev('template_card_menu_event', { EventKey: 'menu_key', TaskId: 'taskid222', CardType: 'text_notice', ResponseCode: 'RC_222', AgentID: 1 }),
    { event_type: V('TEMPLATE_CARD_MENU_EVENT'), event_key: 'menu_key', task_id: 'taskid222', card_type: 'text_notice', response_code: 'RC_222' }],
  ['open_approval_change', ev('open_approval_change', {
    AgentID: 1,
    ApprovalInfo: {
      ThirdNo: '201806010001', OpenSpName: '付款', OpenTemplateId: '1234567890', OpenSpStatus: 1, ApplyTime: 1527837645,
      ApplyUserName: 'xiaoming', ApplyUserId: '1', ApplyUserParty: '产品部', ApplyUserImage: 'http://www.qq.com/xxx.png',
      ApprovalNodes: { ApprovalNode: { NodeStatus: 1, NodeAttr: 1, NodeType: 1, Items: { Item: { ItemName: 'xiaohong', ItemUserId: '2', ItemImage: 'http://www.qq.com/xxx.png', ItemStatus: 1, ItemSpeech: '', ItemOpTime: 0 } } } },
      NotifyNodes: { NotifyNode: { ItemName: 'xiaogang', ItemUserId: '3', ItemImage: 'http://www.qq.com/xxx.png' } },
      approverstep: 0,
    },
  }), { event_type: V('OPEN_APPROVAL_CHANGE'), third_no: '201806010001', 'count(item)': 0 }],
  ['sys_approval_change', ev('sys_approval_change', {
    AgentID: 3010040,
    ApprovalInfo: {
      SpNo: '202006030001', SpName: '请假', SpStatus: 1, TemplateId: '3TkZjxugtDAdGDPkUwQMXwwmCMZLyvMbqAe4sMJRq',
      ApplyTime: 1591171238, Applyer: { UserId: 'WangXiaoMing', Party: 1 },
      SpRecord: [
        { SpStatus: 2, ApproverAttr: 1, Details: { Approver: { UserId: 'LiuXiaoGang' }, Speech: '同意', SpStatus: 2, SpTime: 1591171300 } },
        { SpStatus: 3, ApproverAttr: 1, Details: { Approver: { UserId: 'ZhangSan' }, Speech: '', SpStatus: 3, SpTime: 0 } },
      ],
      Notifyer: { UserId: 'LiuXiaoGang' }, StatuChangeEvent: 1,
    },
  }), { event_type: V('SYS_APPROVAL_CHANGE'), sp_no: '202006030001', sp_status: '1' }],
  ['change_external_contact', ev('change_external_contact', { ChangeType: 'add_external_contact', UserID: 'zhangsan', ExternalUserID: 'woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA', State: 'teststate', WelcomeCode: 'WELCOMECODE' }),
    { event_type: V('CHANGE_EXTERNAL_CONTACT'), change_type: 'add_external_contact', user_id: 'zhangsan', external_user_id: 'woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA', welcome_code: 'WELCOMECODE' }],
  ['change_external_chat', ev('change_external_chat', {
    ChatId: 'wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA', ChangeType: 'update', UpdateDetail: 'add_member', JoinScene: 1, QuitScene: 0,
    MemChangeCnt: 2, MemChangeList: { Item: ['Jack', 'Rose'] }, LastMemVer: '9c3f97c2ada667dfb5f6d03308d963e1', CurMemVer: '71217227bbd112ecfe3a49c482195cb4',
  }), { event_type: V('CHANGE_EXTERNAL_CHAT'), chat_id: 'wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA', change_type: 'update' }],
  ['change_external_tag', ev('change_external_tag', { Id: 'etmS9XAAAAWzZ9bbvG8xl2W7mpBsbYiA', TagType: 'tag', ChangeType: 'create', StrategyId: 1 }),
    { event_type: V('CHANGE_EXTERNAL_TAG'), party_id: 'etmS9XAAAAWzZ9bbvG8xl2W7mpBsbYiA', change_type: 'create' }],
  ['share_agent_change', ev('share_agent_change', { AgentID: 1000005 }),
    { event_type: V('SHARE_AGENT_CHANGE'), agentid: 1000005 }],
];

for (const [name, fields, want] of events) {
  test(`dump: event ${name} reaches the handler with its typed fields`, async () => {
    const from = /change_contact|batch_job|external|share_agent/.test(name) ? 'sys' : 'zhangsan';
    const got = await dump(fields, { from });
    expectFields(got, { type: T('EVENT'), msgtype: 'event', event: fields.Event, from_user: from, create_time: TIME, ...want });
  });
}

// wecom_msg_count() is documented "for repeated items", and dump.c
// prints count(item): the PicList items are containers of PicMd5Sum.
test('dump: count(item) counts the repeated PicList items of pic_weixin', async () => {
  const got = await dump(ev('pic_weixin', { EventKey: '6', SendPicsInfo: { Count: 3, PicList: { item: md5.map((m) => ({ PicMd5Sum: m })) } }, AgentID: 1 }));
  expectFields(got, { pic_count: 3, 'count(item)': 3 });
});

test('dump: count(item) counts leaf items (MemChangeList/Item-like lists named item)', async () => {
  const got = await dump(ev('change_external_chat', { ChatId: 'c1', ChangeType: 'update', MemChangeList: { item: ['Jack', 'Rose'] } }), { from: 'sys' });
  expectFields(got, { 'count(item)': 2 });
});

// WeCom's own sample (微信客服 接收消息和事件, doc 94670) has no
// FromUserName: the event comes from the system, not from a member.
test('dump: event kf_msg_or_event as WeCom sends it (no FromUserName) reaches the handler', async () => {
  const r = await h.callback(srv, 'dump', h.toXml({
    ToUserName: CORP, CreateTime: TIME, MsgType: 'event', Event: 'kf_msg_or_event',
    Token: 'ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR', OpenKfId: 'wkAJ2GCAAAZSfhHCt7IFSvLKtMPxyJTw',
  }));
  assert.equal(r.status, 200, 'a documented event must not be refused');
  expectFields(h.dumpFields(r), {
    type: T('EVENT'), event_type: V('KF_MSG_OR_EVENT'), event: 'kf_msg_or_event',
    kf_token: 'ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR', open_kf_id: 'wkAJ2GCAAAZSfhHCt7IFSvLKtMPxyJTw',
  });
});

test('dump: event kf_msg_or_event with a FromUserName reaches the handler', async () => {
  const got = await dump(ev('kf_msg_or_event', { Token: 'ENCtok', OpenKfId: 'wkxxxxxxx' }), { from: 'sys' });
  expectFields(got, { event_type: V('KF_MSG_OR_EVENT'), kf_token: 'ENCtok', open_kf_id: 'wkxxxxxxx' });
});

// ----------------------------------------------------- unknown & opaque

test('dump: an unknown future event arrives as UNKNOWN with its name', async () => {
  const got = await dump(ev('some_future_event', { EventKey: 'k', FutureField: 'x' }));
  expectFields(got, { type: T('EVENT'), event_type: V('UNKNOWN'), event: 'some_future_event', event_key: 'k' });
});

test('dump: an event without Event element is UNKNOWN, not refused', async () => {
  const got = await dump({ MsgType: 'event', AgentID: 1 });
  expectFields(got, { type: T('EVENT'), event_type: V('UNKNOWN'), event: undefined });
});

test('dump: an unknown message type arrives as UNKNOWN with its msgtype', async () => {
  const got = await dump({ MsgType: 'miniprogram', Title: 'mp', MsgId: '55' });
  expectFields(got, { type: T('UNKNOWN'), event_type: '0', msgtype: 'miniprogram', title: 'mp' });
});

test('dump: an unknown nested element is reachable by path (X-Unknown/Deep)', async () => {
  const got = await dump({ MsgType: 'text', Content: 'c', MsgId: '9', 'X-Unknown': { Deep: 'v 深' } });
  expectFields(got, { 'X-Unknown/Deep': 'v 深', content: 'c' });
});

test('dump: MsgId as an opaque base64 string arrives intact', async () => {
  const id = 'CAIQg/PKxgYY2sC9tpuAgAMg9/zKaw==';
  const got = await dump({ MsgType: 'text', Content: 'c', MsgId: id, AgentID: 1 });
  expectFields(got, { msgid: id });
});

test('dump: a 20-digit numeric MsgId arrives intact', async () => {
  const id = '98765432109876543210';
  const got = await dump({ MsgType: 'text', Content: 'c', MsgId: id, AgentID: 1 });
  expectFields(got, { msgid: id });
});

test('dump: layout whitespace, CRLF and indentation between elements do not matter', async () => {
  const xml = `<xml>\r\n\t<ToUserName><![CDATA[${CORP}]]></ToUserName>\r\n\t<FromUserName>  <![CDATA[lisi]]>  </FromUserName>\r\n`
    + `    <CreateTime>${TIME}</CreateTime>\r\n  <MsgType>text</MsgType>\n\n<Content>plain &amp; escaped &lt;ok&gt;</Content>`
    + '<MsgId>42</MsgId>   <AgentID> 7 </AgentID>\r\n</xml>\r\n';
  const got = await dump(null, { raw: xml });
  expectFields(got, { msgtype: 'text', content: 'plain & escaped <ok>', msgid: '42', agentid: 7 });
  // Whitespace around CDATA inside an element is part of its text.
  assert.match(got.from_user, /lisi/);
});

test('dump: an XML declaration and a comment before the root are accepted', async () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><xml><ToUserName>${CORP}</ToUserName><FromUserName>u</FromUserName>`
    + `<CreateTime>${TIME}</CreateTime><MsgType>text</MsgType><Content>decl</Content><MsgId>1</MsgId></xml>`;
  const got = await dump(null, { raw: xml });
  expectFields(got, { content: 'decl', from_user: 'u' });
});

test('dump: the handler never sees message content in the log', async () => {
  const secret = 'CONTENT-MARKER-' + h.randomAlnum(12);
  await dump({ MsgType: 'text', Content: secret, MsgId: '77' });
  await h.sleep(100);
  assert.ok(!srv.log().includes(secret));
  assert.ok(!srv.log().includes(srv.apps.dump.token));
  assert.ok(!srv.log().includes(srv.apps.dump.aeskey));
});
