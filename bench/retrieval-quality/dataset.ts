/**
 * A generated, labelled multilingual retrieval set (zh / ja / tr / en), seeded and deterministic.
 *
 * Three kinds of entity — consumer devices (Latin model names in every language, as in real
 * product documentation), towns and researchers (names transliterated per language: 卡里托 /
 * カリト / Karito, so only meaning connects them across scripts) — each described by one passage
 * in its "home" language, a third of them by a second passage in another language. Every entity
 * has a near-duplicate twin in the same language (Kestrel K7 / Kestrel K8, Karito / Karina) that
 * differs in name and some facts: the hard negative for lexical search.
 *
 * Questions ask for one fact of one entity, worded differently from the passage (battery life vs
 * "runs for 12 hours on one charge"), in the passage's language (same-language) and in a language
 * no passage of that entity is written in (cross-lingual). A fifth of the Turkish questions are
 * typed without diacritics (nufus for nüfus), as users on other keyboards do. Relevant = the
 * passages of the asked entity.
 */
import { mulberry32 } from '@tessera/retrieval';
export type Lang = 'en' | 'zh' | 'ja' | 'tr';
export const LANGS: readonly Lang[] = ['en', 'zh', 'ja', 'tr'];

export interface Passage {
  id: string;
  lang: Lang;
  entity: string;
  text: string;
}

export interface Question {
  id: string;
  lang: Lang;
  text: string;
  /** Passage ids that answer it. */
  relevant: string[];
  crossLingual: boolean;
  kind: 'device' | 'town' | 'person';
}

export interface Dataset {
  passages: Passage[];
  questions: Question[];
}

const rng = mulberry32;

type L4 = Record<Lang, string>;
const l4 = (en: string, zh: string, ja: string, tr: string): L4 => ({ en, zh, ja, tr });

// ---- vocabulary ------------------------------------------------------------------------------

const DEVICE_TYPES: L4[] = [
  l4('drone', '无人机', 'ドローン', 'drone'),
  l4('e-reader', '电子阅读器', '電子書籍リーダー', 'e-kitap okuyucu'),
  l4('pair of wireless headphones', '无线耳机', 'ワイヤレスヘッドホン', 'kablosuz kulaklık'),
  l4('smartwatch', '智能手表', 'スマートウォッチ', 'akıllı saat'),
  l4('portable projector', '便携投影仪', 'ポータブルプロジェクター', 'taşınabilir projektör'),
  l4('robot vacuum cleaner', '扫地机器人', 'ロボット掃除機', 'robot süpürge'),
];
const COLORS: L4[] = [
  l4('black', '黑色', 'ブラック', 'siyah'),
  l4('white', '白色', 'ホワイト', 'beyaz'),
  l4('blue', '蓝色', 'ブルー', 'mavi'),
  l4('green', '绿色', 'グリーン', 'yeşil'),
  l4('red', '红色', 'レッド', 'kırmızı'),
  l4('silver', '银色', 'シルバー', 'gümüş'),
];
const BRANDS = ['Kestrel', 'Orion', 'Nimbus', 'Vanta', 'Solace', 'Brio', 'Tundra', 'Zephyr', 'Halcyon', 'Quill', 'Lumen', 'Sable', 'Corvid', 'Anvil', 'Pika', 'Ferro', 'Mistral', 'Obsidia', 'Tessel', 'Wren'];
const MAKERS = ['Aldenworks', 'Brightfield', 'Corlan Labs', 'Dunmore', 'Elstree Devices', 'Fenwick', 'Garrow', 'Hollin'];

const DISHES: L4[] = [
  l4('hand-pulled noodles', '拉面', '手延べ麺', 'el açması erişte'),
  l4('grilled river fish', '烤河鱼', '川魚の塩焼き', 'ızgara nehir balığı'),
  l4('sweet bean pastries', '豆沙酥饼', '餡入りの焼き菓子', 'tatlı fasulyeli börek'),
  l4('lamb stew', '炖羊肉', '羊肉の煮込み', 'kuzu güveci'),
  l4('rice dumplings', '粽子', 'ちまき', 'pirinç mantısı'),
  l4('walnut honey cake', '核桃蜂蜜蛋糕', 'くるみと蜂蜜のケーキ', 'cevizli ballı kek'),
];
const FIELDS: L4[] = [
  l4('physics', '物理学', '物理学', 'fizik'),
  l4('chemistry', '化学', '化学', 'kimya'),
  l4('botany', '植物学', '植物学', 'botanik'),
  l4('astronomy', '天文学', '天文学', 'astronomi'),
  l4('mathematics', '数学', '数学', 'matematik'),
  l4('geology', '地质学', '地質学', 'jeoloji'),
];
const DISCOVERIES: L4[] = [
  l4('a cheap way to purify river water', '一种廉价的河水净化方法', '川の水を安く浄化する方法', 'nehir suyunu ucuza arıtmanın bir yolu'),
  l4('the first map of faint southern stars', '第一张南天暗星图', '南天の暗い星の最初の地図', 'güney göğündeki sönük yıldızların ilk haritası'),
  l4('a drought-resistant strain of wheat', '一种抗旱小麦品种', '干ばつに強い小麦の品種', 'kuraklığa dayanıklı bir buğday çeşidi'),
  l4('a proof about prime number gaps', '关于素数间隙的一个证明', '素数の間隔に関する証明', 'asal sayı aralıkları üzerine bir ispat'),
  l4('a method to date volcanic rock', '测定火山岩年代的方法', '火山岩の年代を測定する方法', 'volkanik kayaçları tarihlendirme yöntemi'),
  l4('a battery made from sea salt', '用海盐制成的电池', '海塩から作った電池', 'deniz tuzundan yapılan bir pil'),
];

/** Syllables with their Chinese and Japanese transliterations (consistent, as in real names). */
const SYL: Array<[string, string, string]> = [
  ['ka', '卡', 'カ'], ['ri', '里', 'リ'], ['to', '托', 'ト'], ['na', '纳', 'ナ'], ['mo', '莫', 'モ'],
  ['sa', '萨', 'サ'], ['lu', '卢', 'ル'], ['ve', '维', 'ヴェ'], ['ta', '塔', 'タ'], ['ki', '基', 'キ'],
  ['ro', '罗', 'ロ'], ['mi', '米', 'ミ'], ['da', '达', 'ダ'], ['no', '诺', 'ノ'], ['ha', '哈', 'ハ'],
  ['le', '莱', 'レ'], ['bo', '博', 'ボ'], ['si', '西', 'シ'], ['ga', '加', 'ガ'], ['te', '特', 'テ'],
];

function name(sy: number[]): L4 {
  const lat = sy.map((i) => SYL[i]![0]).join('');
  const cap = lat[0]!.toUpperCase() + lat.slice(1);
  return l4(cap, sy.map((i) => SYL[i]![1]).join(''), sy.map((i) => SYL[i]![2]).join(''), cap);
}

// ---- entities --------------------------------------------------------------------------------

type Facts = Record<string, string | number | L4>;
interface Entity {
  id: string;
  kind: 'device' | 'town' | 'person';
  name: L4;
  facts: Facts;
  langs: Lang[];
}

const val = (v: string | number | L4, lang: Lang): string => (typeof v === 'object' ? v[lang] : String(v));

function passageText(e: Entity, lang: Lang, variant: number): string {
  const f = (k: string) => val(e.facts[k]!, lang);
  const n = e.name[lang];
  if (e.kind === 'device') {
    const T = {
      en: [
        `The ${n} is a ${f('type')} made by ${f('maker')}. It weighs ${f('weight')} grams and runs for about ${f('battery')} hours on a single charge. It went on sale in ${f('year')} and ships in ${f('color')}.`,
        `${f('maker')} introduced the ${n}, a ${f('type')}, in ${f('year')}. A full charge keeps it going for roughly ${f('battery')} hours; the ${f('color')} body weighs ${f('weight')} g.`,
      ],
      zh: [
        `${n} 是 ${f('maker')} 推出的${f('type')}。重量为 ${f('weight')} 克，充满电后可连续使用约 ${f('battery')} 小时。该产品于 ${f('year')} 年上市，颜色为${f('color')}。`,
        `${f('maker')} 在 ${f('year')} 年发布了${f('type')} ${n}。一次充电大约可以工作 ${f('battery')} 个小时，${f('color')}机身重 ${f('weight')} 克。`,
      ],
      ja: [
        `${n}は${f('maker')}が開発した${f('type')}です。重さは${f('weight')}グラムで、一回の充電で約${f('battery')}時間使えます。${f('year')}年に発売され、カラーは${f('color')}です。`,
        `${f('maker')}は${f('year')}年に${f('type')}「${n}」を発売しました。フル充電でおよそ${f('battery')}時間動作し、${f('color')}の本体は${f('weight')}グラムです。`,
      ],
      tr: [
        `${n}, ${f('maker')} tarafından üretilen bir ${f('type')}. Ağırlığı ${f('weight')} gram olup tek şarjla yaklaşık ${f('battery')} saat çalışıyor. ${f('year')} yılında satışa çıktı ve ${f('color')} renkte sunuluyor.`,
        `${f('maker')}, ${n} adlı ${f('type')} modelini ${f('year')} yılında tanıttı. Tam dolu bir batarya cihazı yaklaşık ${f('battery')} saat çalıştırıyor; ${f('color')} gövdesi ${f('weight')} gram.`,
      ],
    };
    return T[lang][variant % 2]!;
  }
  if (e.kind === 'town') {
    const T = {
      en: [
        `${n} is a town in the ${f('region')} valley with about ${f('population')} inhabitants. It lies on the ${f('river')} River and was founded in ${f('year')}. Visitors come for its ${f('dish')}.`,
        `Founded in ${f('year')} on the banks of the ${f('river')}, ${n} now has roughly ${f('population')} residents. The town in the ${f('region')} valley is best known for ${f('dish')}.`,
      ],
      zh: [
        `${n}是${f('region')}谷地的一座小城，人口约 ${f('population')} 人。城市坐落在${f('river')}河畔，建于 ${f('year')} 年，以${f('dish')}闻名。`,
        `${n}于 ${f('year')} 年在${f('river')}河边建城，如今约有 ${f('population')} 名居民。这座位于${f('region')}谷地的小城最出名的是${f('dish')}。`,
      ],
      ja: [
        `${n}は${f('region')}渓谷にある町で、人口は約${f('population')}人です。${f('river')}川のほとりにあり、${f('year')}年に創設されました。名物は${f('dish')}です。`,
        `${f('year')}年に${f('river')}川の岸に築かれた${n}には、現在およそ${f('population')}人が暮らしています。${f('region')}渓谷のこの町は${f('dish')}で知られています。`,
      ],
      tr: [
        `${n}, ${f('region')} vadisinde yaklaşık ${f('population')} kişinin yaşadığı bir kasabadır. ${f('river')} Nehri kıyısında yer alır ve ${f('year')} yılında kurulmuştur. Ziyaretçiler en çok ${f('dish')} için gelir.`,
        `${f('year')} yılında ${f('river')} kıyısında kurulan ${n} kasabasında bugün yaklaşık ${f('population')} kişi yaşıyor. ${f('region')} vadisindeki kasaba en çok ${f('dish')} ile tanınır.`,
      ],
    };
    return T[lang][variant % 2]!;
  }
  const T = {
    en: [
      `${n} was a ${f('field')} researcher born in ${f('year')}. After studying at the University of ${f('school')}, ${n} became known for ${f('discovery')}.`,
      `Born in ${f('year')}, ${n} studied at ${f('school')} University and worked in ${f('field')}; the name is remembered for ${f('discovery')}.`,
    ],
    zh: [
      `${n}是一位${f('field')}研究者，生于 ${f('year')} 年。在${f('school')}大学求学后，因${f('discovery')}而闻名。`,
      `${n}出生于 ${f('year')} 年，毕业于${f('school')}大学，从事${f('field')}研究，最为人熟知的成果是${f('discovery')}。`,
    ],
    ja: [
      `${n}は${f('year')}年生まれの${f('field')}の研究者です。${f('school')}大学で学んだ後、${f('discovery')}で知られるようになりました。`,
      `${f('year')}年に生まれた${n}は${f('school')}大学で${f('field')}を学び、${f('discovery')}の業績で名を残しました。`,
    ],
    tr: [
      `${n}, ${f('year')} doğumlu bir ${f('field')} araştırmacısıdır. ${f('school')} Üniversitesi'nde okuduktan sonra ${f('discovery')} ile tanındı.`,
      `${f('year')} yılında doğan ${n}, ${f('school')} Üniversitesi'nde ${f('field')} okudu ve en çok ${f('discovery')} çalışmasıyla hatırlanıyor.`,
    ],
  };
  return T[lang][variant % 2]!;
}

/** Question templates per kind and fact; `{n}` is the entity name, `{t}` the device type. */
const Q: Record<'device' | 'town' | 'person', Record<string, Record<Lang, string[]>>> = {
  device: {
    battery: {
      en: ['How long does the {n} last on one charge?', 'What is the battery life of the {n} {t}?'],
      zh: ['{n}{t}的电池能用多久？', '{n} 的续航时间是多少？'],
      ja: ['{n}のバッテリーは何時間もちますか？', '{n}の電池持ちはどのくらい？'],
      tr: ['{n} tek şarjla kaç saat dayanıyor?', '{n} {t} pil ömrü ne kadar?'],
    },
    weight: {
      en: ['How heavy is the {n}?', 'What does the {n} {t} weigh?'],
      zh: ['{n}有多重？', '{n}{t}的重量是多少？'],
      ja: ['{n}の重さはどれくらいですか？', '{n}は何グラム？'],
      tr: ['{n} ne kadar ağır?', '{n} {t} kaç gram geliyor?'],
    },
    year: {
      en: ['When was the {n} released?', 'In which year did {n} come out?'],
      zh: ['{n}是哪一年发布的？', '{n}什么时候上市？'],
      ja: ['{n}はいつ発売されましたか？', '{n}の発売年は？'],
      tr: ['{n} hangi yıl piyasaya çıktı?', '{n} ne zaman satışa sunuldu?'],
    },
  },
  town: {
    population: {
      en: ['How many people live in {n}?', 'What is the population of {n}?'],
      zh: ['{n}有多少人口？', '{n}住着多少人？'],
      ja: ['{n}の人口はどのくらいですか？', '{n}には何人住んでいますか？'],
      tr: ['{n} kasabasının nüfusu kaç?', '{n} kasabasında kaç kişi yaşıyor?'],
    },
    river: {
      en: ['Which river flows past {n}?', 'What river is {n} built on?'],
      zh: ['哪条河流经{n}？', '{n}位于哪条河边？'],
      ja: ['{n}を流れる川は何ですか？', '{n}はどの川沿いにありますか？'],
      tr: ['{n} hangi nehrin kenarında?', '{n} kasabasından hangi nehir geçer?'],
    },
    dish: {
      en: ['What food is {n} famous for?', 'What should I eat when visiting {n}?'],
      zh: ['{n}有什么特色美食？', '去{n}应该吃什么？'],
      ja: ['{n}の名物料理は何ですか？', '{n}で食べるべきものは？'],
      tr: ['{n} kasabasının meşhur yemeği nedir?', '{n} ziyaretinde ne yemeli?'],
    },
  },
  person: {
    year: {
      en: ['In what year was {n} born?', 'When was the researcher {n} born?'],
      zh: ['{n}出生于哪一年？', '研究者{n}是哪年出生的？'],
      ja: ['{n}は何年に生まれましたか？', '研究者の{n}の生年は？'],
      tr: ['{n} hangi yıl doğdu?', 'Araştırmacı {n} ne zaman doğdu?'],
    },
    discovery: {
      en: ['What is {n} known for?', 'What did {n} discover?'],
      zh: ['{n}因什么而出名？', '{n}有什么发现？'],
      ja: ['{n}は何で有名ですか？', '{n}の功績は何ですか？'],
      tr: ['{n} neyle tanınıyor?', '{n} ne keşfetti?'],
    },
    school: {
      en: ['Where did {n} study?', 'Which university did {n} attend?'],
      zh: ['{n}在哪所大学读书？', '{n}毕业于哪所大学？'],
      ja: ['{n}はどこの大学で学びましたか？', '{n}の出身大学は？'],
      tr: ['{n} hangi üniversitede okudu?', '{n} nerede eğitim aldı?'],
    },
  },
};

/** Turkish typed on a keyboard without Turkish letters. */
function asciiTurkish(s: string): string {
  return s.replace(/[çğıöşüÇĞİÖŞÜ]/g, (c) => ({ ç: 'c', ğ: 'g', ı: 'i', ö: 'o', ş: 's', ü: 'u', Ç: 'C', Ğ: 'G', İ: 'I', Ö: 'O', Ş: 'S', Ü: 'U' })[c] ?? c);
}

export interface DatasetOptions {
  seed?: number;
  /** [16] Twin pairs per kind that questions are asked about (entities = 6 x pairs). */
  pairs?: number;
  /** [24] Further twin pairs per kind whose passages are only distractors. */
  distractorPairs?: number;
}

export function generateDataset(opts: DatasetOptions = {}): Dataset {
  const r = rng(opts.seed ?? 7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const asked = opts.pairs ?? 16;
  const pairs = asked + (opts.distractorPairs ?? 24);
  const entities: Entity[] = [];
  const usedNames = new Set<string>();
  const freshSyl = (len: number): number[] => {
    for (;;) {
      const s = Array.from({ length: len }, () => int(0, SYL.length - 1));
      const k = s.join('.');
      if (!usedNames.has(k)) {
        usedNames.add(k);
        return s;
      }
    }
  };
  let home = 0;
  for (let p = 0; p < pairs; p++) {
    for (const kind of ['device', 'town', 'person'] as const) {
      const lang = LANGS[home++ % 4]!;
      const second = (): Lang[] => (r() < 0.33 ? [lang, pick(LANGS.filter((l) => l !== lang))] : [lang]);
      if (kind === 'device') {
        const brand = BRANDS[(p * 7) % BRANDS.length]!;
        let letter = '';
        let num = 0;
        do {
          letter = String.fromCharCode(65 + int(0, 25));
          num = int(2, 8);
        } while (usedNames.has(`${brand}${letter}${num}`) || usedNames.has(`${brand}${letter}${num + 1}`));
        usedNames.add(`${brand}${letter}${num}`);
        usedNames.add(`${brand}${letter}${num + 1}`);
        const type = pick(DEVICE_TYPES);
        const base: Facts = { type, maker: pick(MAKERS), weight: int(120, 990), battery: int(4, 40), year: int(2012, 2025), color: pick(COLORS) };
        const nm = (d: number) => l4(`${brand} ${letter}${d}`, `${brand} ${letter}${d}`, `${brand} ${letter}${d}`, `${brand} ${letter}${d}`);
        entities.push({ id: `dev${p}a`, kind, name: nm(num), facts: base, langs: second() });
        entities.push({ id: `dev${p}b`, kind, name: nm(num + 1), facts: { ...base, weight: int(120, 990), battery: int(4, 40), year: int(2012, 2025) }, langs: second() });
      } else if (kind === 'town') {
        const s = freshSyl(3);
        const twin = [...s.slice(0, 2), (s[2]! + 1 + int(0, 17)) % SYL.length];
        usedNames.add(twin.join('.'));
        const region = name(freshSyl(2));
        const base: Facts = { region, river: name(freshSyl(2)), population: int(3, 950) * 100, year: int(1100, 1950), dish: pick(DISHES) };
        entities.push({ id: `town${p}a`, kind, name: name(s), facts: base, langs: second() });
        entities.push({ id: `town${p}b`, kind, name: name(twin), facts: { ...base, river: name(freshSyl(2)), population: int(3, 950) * 100, dish: pick(DISHES) }, langs: second() });
      } else {
        const given = freshSyl(2);
        const family = freshSyl(3);
        const twinGiven = [given[0]!, (given[1]! + 1 + int(0, 17)) % SYL.length];
        const full = (g: number[]): L4 => {
          const a = name(g);
          const b = name(family);
          return l4(`${a.en} ${b.en}`, `${a.zh}·${b.zh}`, `${a.ja}・${b.ja}`, `${a.tr} ${b.tr}`);
        };
        const base: Facts = { year: int(1820, 1990), field: pick(FIELDS), discovery: pick(DISCOVERIES), school: name(freshSyl(2)) };
        entities.push({ id: `per${p}a`, kind, name: full(given), facts: base, langs: second() });
        entities.push({ id: `per${p}b`, kind, name: full(twinGiven), facts: { ...base, year: int(1820, 1990), discovery: pick(DISCOVERIES), school: name(freshSyl(2)) }, langs: second() });
      }
    }
  }
  // The twin lives in the same home language as its sibling (the hard negative).
  for (let i = 0; i < entities.length; i += 2) entities[i + 1]!.langs[0] = entities[i]!.langs[0]!;
  for (const e of entities) e.langs = [...new Set(e.langs)];

  const passages: Passage[] = [];
  for (const e of entities) e.langs.forEach((lang, v) => passages.push({ id: `${e.id}.${lang}`, lang, entity: e.id, text: passageText(e, lang, v + (r() < 0.5 ? 1 : 0)) }));

  const questions: Question[] = [];
  for (const e of entities.slice(0, asked * 6)) {
    const facts = Object.keys(Q[e.kind]);
    const askedFacts = [...facts].sort(() => r() - 0.5).slice(0, 2);
    const relevant = passages.filter((p) => p.entity === e.id).map((p) => p.id);
    for (const fact of askedFacts) {
      const other = LANGS.filter((l) => !e.langs.includes(l));
      for (const [lang, crossLingual] of [[e.langs[0]!, false], [pick(other), true]] as const) {
        const t = e.kind === 'device' ? val(e.facts.type!, lang) : '';
        let text = pick(Q[e.kind][fact]![lang]).replaceAll('{n}', e.name[lang]).replaceAll('{t}', t);
        if (lang === 'tr' && r() < 0.2) text = asciiTurkish(text);
        questions.push({ id: `q${questions.length}`, lang, text, relevant, crossLingual, kind: e.kind });
      }
    }
  }
  return { passages, questions };
}
