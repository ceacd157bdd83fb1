// The words of the patient screens (issue 21) in Turkish and English, and the helpers that choose
// and apply them: the browser's language picks the dictionary (navigator.language "tr…" is Turkish,
// anything else English), and the patient service's errors are worded from their ErrorInfo and
// field-violation reasons. The rest of the app is English only for now (message-catalog.ts); the
// project has no i18n library, and two small typed dictionaries are all these screens need: the
// PatientText interface makes the compiler refuse a language that misses a sentence.
import { ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { explainError, type Explained } from "./error-explainer.js";

/** Lang is a language the patient screens speak. */
export type Lang = "tr" | "en";

/** langOf maps a BCP 47 tag to the screens' language: "tr", "tr-TR" are Turkish, anything else English. */
export function langOf(tag: string | undefined): Lang {
  return (tag ?? "").toLowerCase().startsWith("tr") ? "tr" : "en";
}

/** patientLang is the browser's language for the patient screens. */
export function patientLang(): Lang {
  return langOf(typeof navigator === "undefined" ? undefined : navigator.language);
}

/** QueryKind is what a search box input looks like. */
export type QueryKind = "name" | "birthDate" | "phone" | "nationalId" | "medicalRecordNumber" | "tooShort" | "empty";

/** Detected is a search box input read by its shape: the kind and the value to send. */
export interface Detected {
  /** kind is what the input looks like. */
  kind: QueryKind;
  /** value is what is sent in the request field of that kind (a date as "YYYY-MM-DD"). */
  value: string;
}

/** realDate gives "YYYY-MM-DD" when year, month and day make a real calendar date. */
function realDate(y: string, m: string, d: string): string | undefined {
  const iso = `${y.padStart(4, "0")}-${m.padStart(2, "0")}-${d.padStart(2, "0")}`;
  const t = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(t.getTime()) && t.toISOString().startsWith(iso) ? iso : undefined;
}

/**
 * detectQuery reads one search box: a date ("1985-03-07", "07.03.1985", "7/3/1985") is a date of
 * birth; 11 digits not starting with 0 a T.C. Kimlik No; another number of 10 or more digits (with
 * "+", spaces, dots, dashes or brackets) a phone; a short code with a digit (letters, digits, "-",
 * "/") a medical record number; letters (at least 3) a name; anything else too short to search.
 */
export function detectQuery(input: string): Detected {
  const s = input.trim().replace(/\s+/g, " ");
  if (!s) return { kind: "empty", value: "" };
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  if (m) {
    const d = realDate(m[1], m[2], m[3]);
    if (d) return { kind: "birthDate", value: d };
  }
  m = /^(\d{1,2})[./](\d{1,2})[./](\d{4})$/.exec(s);
  if (m) {
    const d = realDate(m[3], m[2], m[1]);
    if (d) return { kind: "birthDate", value: d };
  }
  const digits = s.replace(/\D/g, "");
  // 11 digits not starting with 0 (a Turkish phone written locally starts with 0): the service checks the check digits and says so.
  if (/^[1-9]\d{10}$/.test(s)) return { kind: "nationalId", value: s };
  if (/^\+?[\d\s().-]+$/.test(s) && digits.length >= 10 && digits.length <= 15) return { kind: "phone", value: s };
  if (/^[A-Za-z0-9/-]{1,32}$/.test(s) && /\d/.test(s)) return { kind: "medicalRecordNumber", value: s };
  const letters = [...s].filter((c) => /\p{L}/u.test(c)).length;
  if (letters >= 3 && !/\d/.test(s)) return { kind: "name", value: s };
  return { kind: "tooShort", value: s };
}

/** PatientText is every sentence of the patient screens; each language implements all of it. */
export interface PatientText {
  screenPatients: string;
  screenMyDetails: string;
  searchHeading: string;
  searchLabel: string;
  searchHint: string;
  searchButton: string;
  searching: string;
  searchingBy: Record<Exclude<QueryKind, "tooShort" | "empty">, string>;
  tooShort: string;
  noMatches: string;
  moreMatches: string;
  resultsLabel: string;
  pick(a: { name: string }): string;
  picked: string;
  change: string;
  bookFor: string;
  orTypeId: string;
  idHint: string;
  newPatient: string;
  registerHeading: string;
  givenName: string;
  familyName: string;
  birthDate: string;
  gender: string;
  genders: { unspecified: string; female: string; male: string; other: string; unknown: string };
  phone: string;
  email: string;
  language: string;
  languages: { tr: string; en: string };
  consentSms: string;
  consentEmail: string;
  nationalId: string;
  optional: string;
  medicalRecordNumber: string;
  location: string;
  save: string;
  cancel: string;
  registered(a: { name: string }): string;
  dob: string;
  mrn: string;
  phones: string;
  addPhone: string;
  removePhone(a: { n: number }): string;
  consents: string;
  myDetailsHeading: string;
  saved: string;
  reload: string;
  nothingChanged: string;
  notAPatient: string;
  loading: string;
  retry: string;
  /** accessReasonLabel labels the break-the-glass reason box; the hint says its limits and that it is recorded. */
  accessReasonLabel: string;
  accessReasonHint: string;
  accessReasonShort: string;
  accessReasonLong: string;
  openWithReason: string;
  searchAllLocations: string;
  searchAllExplain: string;
  notes: string;
  relatedPersons: string;
  relationships: Record<"unspecified" | "guardian" | "emergencyContact" | "parent" | "spouse" | "child" | "sibling" | "other", string>;
  /** fieldReasons word field violations by reason; the server's description is the fallback. */
  fieldReasons: Record<string, string>;
  /** reasons word domain errors by ErrorInfo reason. */
  reasons: Record<string, { title: string; action: string; field?: string }>;
  /** codes are the generic words of a status code without a known reason. */
  codes: Record<string, { title: string; action: string }> & { default: { title: string; action: string } };
}

/** TR is the Turkish dictionary. */
const TR: PatientText = {
  screenPatients: "Hastalar",
  screenMyDetails: "Bilgilerim",
  searchHeading: "Hasta ara",
  searchLabel: "Hasta ara",
  searchHint: "Ad (en az 3 harf), doğum tarihi, telefon, T.C. Kimlik No veya dosya numarası",
  searchButton: "Ara",
  searching: "Aranıyor…",
  searchingBy: {
    name: "Ada göre aranıyor",
    birthDate: "Doğum tarihine göre aranıyor",
    phone: "Telefona göre aranıyor",
    nationalId: "T.C. Kimlik No'ya göre aranıyor",
    medicalRecordNumber: "Dosya numarasına göre aranıyor",
  },
  tooShort: "Ad için en az 3 harf yazın ya da doğum tarihi, telefon, T.C. Kimlik No veya dosya numarası girin.",
  noMatches: "Eşleşen hasta yok. Yazımı kontrol edin ya da yeni hasta kaydı açın.",
  moreMatches: "Başka eşleşmeler de var: aramayı daraltın (örneğin soyadı ya da doğum tarihi ekleyin).",
  resultsLabel: "Arama sonuçları",
  pick: (a) => `${a.name} hastasını seç`,
  picked: "Seçilen hasta",
  change: "Değiştir",
  bookFor: "Randevu ver",
  orTypeId: "ya da hasta numarası",
  idHint: "Eski hasta numaraları elle de yazılabilir.",
  newPatient: "Yeni hasta kaydı",
  registerHeading: "Yeni hasta kaydı",
  givenName: "Ad",
  familyName: "Soyad",
  birthDate: "Doğum tarihi",
  gender: "Cinsiyet",
  genders: { unspecified: "Belirtilmedi", female: "Kadın", male: "Erkek", other: "Diğer", unknown: "Bilinmiyor" },
  phone: "Telefon",
  email: "E-posta",
  language: "Tercih edilen dil",
  languages: { tr: "Türkçe", en: "İngilizce" },
  consentSms: "SMS ile bilgilendirilmeyi kabul ediyor",
  consentEmail: "E-posta ile bilgilendirilmeyi kabul ediyor",
  nationalId: "T.C. Kimlik No",
  optional: "isteğe bağlı",
  medicalRecordNumber: "Dosya numarası",
  location: "Kayıt yeri",
  save: "Kaydet",
  cancel: "Vazgeç",
  registered: (a) => `${a.name} kaydedildi ve seçildi.`,
  dob: "Doğum tarihi",
  mrn: "Dosya no",
  phones: "Telefonlar",
  addPhone: "Telefon ekle",
  removePhone: (a) => `${a.n}. telefonu sil`,
  consents: "İletişim izinleri",
  myDetailsHeading: "Bilgilerim",
  saved: "Bilgileriniz kaydedildi.",
  reload: "Yeniden yükle",
  nothingChanged: "Değişiklik yok.",
  notAPatient: "Bu sayfa hastalar içindir.",
  loading: "Yükleniyor…",
  retry: "Tekrar dene",
  accessReasonLabel: "Erişim gerekçesi",
  accessReasonHint: "10–500 karakter. Gerekçeniz adınızla birlikte erişim kayıtlarına yazılır.",
  accessReasonShort: "Gerekçeyi en az 10 karakterle yazın.",
  accessReasonLong: "Gerekçe en fazla 500 karakter olabilir.",
  openWithReason: "Gerekçeyle aç",
  searchAllLocations: "Tüm şubelerde ara",
  searchAllExplain: "Başka şubelerin hastaları da aranır. Erişim gerekçesi kaydedilir.",
  notes: "Personel notları",
  relatedPersons: "Yakınları",
  relationships: {
    unspecified: "Yakını",
    guardian: "Vasi",
    emergencyContact: "Acil durumda aranacak kişi",
    parent: "Anne/baba",
    spouse: "Eş",
    child: "Çocuğu",
    sibling: "Kardeşi",
    other: "Diğer",
  },
  fieldReasons: {
    REQUIRED: "Bu alan zorunludur.",
    TOO_LONG: "Çok uzun.",
    TOO_SHORT: "Çok kısa.",
    CONTROL_CHARACTERS: "Satır sonu ve kontrol karakterlerini silin.",
    INVALID_DATE: "Geçerli bir tarih girin (1900'den sonra).",
    IN_FUTURE: "Bugünden sonraki bir tarih olamaz.",
    INVALID_NAME: "Yalnızca harf, boşluk, kesme işareti, tire ve nokta kullanın.",
    DUPLICATE_CHANNEL: "Her iletişim kanalı için tek bir izin verin.",
    INVALID_NATIONAL_ID: "Geçerli bir T.C. Kimlik No değil: 11 hane ve kontrol haneleri tutmalı. Numarayı kimlikten yeniden okuyun.",
    INVALID_PHONE: "Geçerli bir telefon numarası değil (örneğin 0532 123 45 67).",
    INVALID_EMAIL: "Geçerli bir e-posta adresi değil (örneğin ad@ornek.com).",
    INVALID_LANGUAGE: "Türkçe ya da İngilizce seçin.",
    INVALID_MEDICAL_RECORD_NUMBER: "Dosya numarası 1–32 harf, rakam, “-” ya da “/” olmalı.",
    UNKNOWN_ENUM_VALUE: "Listeden bir seçenek seçin.",
    TOO_MANY: "Çok fazla kayıt.",
    INVALID_VALUE: "Bu değeri kontrol edin.",
    OUT_OF_RANGE: "İzin verilen aralığın dışında.",
    INVALID_ID: "Geçerli bir numara değil: yalnızca harf, rakam, “_” ve “-” (en çok 64).",
    INVALID_REQUEST_ID: "İstek bozuk gönderildi. Sayfayı yenileyip tekrar deneyin.",
    INVALID_PAGE_TOKEN: "Sonuçların devamı artık okunamıyor. Aramayı yeniden yapın.",
    UNKNOWN_PATH: "Bu bilgi buradan değiştirilemez.",
    DUPLICATE_PATH: "Aynı bilgi iki kez değiştirilmek istendi. Sayfayı yenileyip tekrar deneyin.",
    QUERY_TOO_SHORT: "Ad için en az 3 harf yazın (bir sözcük en az 2 harf).",
    TOO_MANY_WORDS: "Daha az sözcükle arayın.",
    NO_CRITERIA: "Ad (en az 3 harf), doğum tarihi, telefon, T.C. Kimlik No ya da dosya numarası girin.",
    SAME_PATIENT: "Bir kayıt kendisiyle birleştirilemez: iki ayrı hasta seçin.",
    INVALID_LOCAL_DATE: "Geçerli bir tarih girin.",
    NOT_WHOLE_MINUTE: "Saniye olmadan, tam dakika olarak girin.",
    TOO_PRECISE: "Saniyenin binde birinden ince bir zaman girilemez.",
  },
  reasons: {
    VERSION_MISMATCH: {
      title: "Bilgileriniz bu arada başka bir yerde değiştirildi; değişikliğiniz kaydedilmedi.",
      action: "Sayfayı yeniden yükleyin, güncel bilgileri görün ve değişikliğinizi tekrar yapın.",
    },
    NATIONAL_ID_IN_USE: { title: "Bu T.C. Kimlik No ile kayıtlı bir hasta zaten var.", action: "Hastayı aramada bulun; yeniden kaydetmeyin.", field: "nationalId" },
    MEDICAL_RECORD_NUMBER_IN_USE: { title: "Bu dosya numarası bu şubede başka bir hastada kayıtlı.", action: "Numarayı kontrol edin ya da boş bırakın.", field: "medicalRecordNumber" },
    PATIENT_ID_IN_USE: { title: "Bu hasta numarası başka bir kayıtta kullanılıyor.", action: "Başka bir numara seçin ya da boş bırakın." },
    NOT_CHANGEABLE_BY_PATIENT: { title: "Bu bilgiyi yalnızca klinik değiştirebilir.", action: "Telefon, e-posta, dil ve izinlerinizi değiştirebilirsiniz; diğerleri için kliniğe başvurun." },
    PATIENT_NOT_FOUND: { title: "Bu hasta kaydı bulunamadı.", action: "Hastayı yeniden arayın." },
    PATIENT_MERGED: { title: "Bu kayıt başka bir kayıtla birleştirildi.", action: "Hastayı yeniden arayın." },
    ACCESS_REASON_REQUIRED: { title: "Bu hasta başka bir şubeye kayıtlı.", action: "Kaydı açmak için neden gerektiğini yazın. Erişim gerekçesi kaydedilir." },
    LOCATION_NOT_FOUND: { title: "Kayıt yeri bulunamadı.", action: "Yöneticinize başvurun." },
    REQUEST_IN_PROGRESS: { title: "Bu işlem hâlâ sürüyor.", action: "Biraz bekleyip yeniden bakın." },
    REQUEST_ID_REUSED: { title: "Bu işlem başka değerlerle zaten gönderildi.", action: "Sayfayı yeniden yükleyip tekrar deneyin." },
    OWN_RECORDS_ONLY: { title: "Yalnızca kendi kaydınızı görebilir ve değiştirebilirsiniz.", action: "Kendi hesabınızla giriş yapın." },
    ROLE_NOT_ALLOWED: { title: "Bu işlem rolünüz için izinli değil.", action: "Yetkili bir rolle giriş yapın." },
  },
  codes: {
    InvalidArgument: { title: "Girilen bilgiler kabul edilmedi.", action: "İşaretli alanları düzeltin." },
    AlreadyExists: { title: "Bu bilgilerle kayıtlı bir hasta zaten var.", action: "Hastayı aramada bulun." },
    Aborted: { title: "Kayıt bu arada değiştirildi.", action: "Sayfayı yeniden yükleyip tekrar deneyin." },
    NotFound: { title: "Kayıt bulunamadı.", action: "Hastayı yeniden arayın." },
    PermissionDenied: { title: "Bu işlem rolünüz için izinli değil.", action: "Yetkili bir rolle giriş yapın." },
    Unauthenticated: { title: "Oturumunuz yok ya da süresi doldu.", action: "Yeniden giriş yapın (sağ üstte Switch user)." },
    Unavailable: { title: "Hasta servisine şu an ulaşılamıyor.", action: "Biraz sonra Tekrar dene'ye basın." },
    DeadlineExceeded: { title: "İşlem çok uzun sürdü.", action: "Tekrar dene'ye basın." },
    Unimplemented: { title: "Bu özellik bu sunucuda henüz yok.", action: "Yöneticinize başvurun." },
    ResourceExhausted: { title: "Bu tarayıcıdan çok fazla istek geldi.", action: "Birkaç saniye bekleyip tekrar deneyin." },
    FailedPrecondition: { title: "Bu işlem şu an yapılamıyor.", action: "Sayfayı yenileyip tekrar deneyin." },
    default: { title: "İşlem yapılamadı.", action: "Tekrar deneyin; sorun sürerse yöneticinize başvurun." },
  },
};

/** EN is the English dictionary. */
const EN: PatientText = {
  screenPatients: "Patients",
  screenMyDetails: "My details",
  searchHeading: "Find a patient",
  searchLabel: "Find a patient",
  searchHint: "Name (at least 3 letters), date of birth, phone, T.C. Kimlik No or medical record number",
  searchButton: "Search",
  searching: "Searching…",
  searchingBy: {
    name: "Searching by name",
    birthDate: "Searching by date of birth",
    phone: "Searching by phone",
    nationalId: "Searching by T.C. Kimlik No",
    medicalRecordNumber: "Searching by medical record number",
  },
  tooShort: "Type at least 3 letters of a name, or a date of birth, phone, T.C. Kimlik No or medical record number.",
  noMatches: "No patient matches. Check the spelling, or register a new patient.",
  moreMatches: "More patients match: narrow the search (add the family name or the date of birth).",
  resultsLabel: "Search results",
  pick: (a) => `Choose ${a.name}`,
  picked: "Patient",
  change: "Change",
  bookFor: "Book an appointment",
  orTypeId: "or patient id",
  idHint: "Older patient ids can still be typed.",
  newPatient: "Register a new patient",
  registerHeading: "Register a new patient",
  givenName: "Given name",
  familyName: "Family name",
  birthDate: "Date of birth",
  gender: "Gender",
  genders: { unspecified: "Not given", female: "Female", male: "Male", other: "Other", unknown: "Unknown" },
  phone: "Phone",
  email: "Email",
  language: "Preferred language",
  languages: { tr: "Turkish", en: "English" },
  consentSms: "Agrees to text messages",
  consentEmail: "Agrees to email",
  nationalId: "T.C. Kimlik No",
  optional: "optional",
  medicalRecordNumber: "Medical record number",
  location: "Registered at",
  save: "Save",
  cancel: "Cancel",
  registered: (a) => `${a.name} is registered and chosen.`,
  dob: "Born",
  mrn: "MRN",
  phones: "Phone numbers",
  addPhone: "Add a phone",
  removePhone: (a) => `Remove phone ${a.n}`,
  consents: "Contact consent",
  myDetailsHeading: "My details",
  saved: "Your details are saved.",
  reload: "Reload",
  nothingChanged: "Nothing changed.",
  notAPatient: "This page is for patients.",
  loading: "Loading…",
  retry: "Retry",
  accessReasonLabel: "Reason for access",
  accessReasonHint: "10–500 characters. Your reason is recorded in the access log with your name.",
  accessReasonShort: "Write the reason in at least 10 characters.",
  accessReasonLong: "The reason can be at most 500 characters.",
  openWithReason: "Open with this reason",
  searchAllLocations: "Search all locations",
  searchAllExplain: "Patients of other locations are searched too. The reason for access is recorded.",
  notes: "Notes for staff",
  relatedPersons: "Related persons",
  relationships: {
    unspecified: "Related person",
    guardian: "Guardian",
    emergencyContact: "Emergency contact",
    parent: "Parent",
    spouse: "Spouse or partner",
    child: "Child",
    sibling: "Sibling",
    other: "Other",
  },
  fieldReasons: {
    REQUIRED: "Required.",
    TOO_LONG: "Too long.",
    TOO_SHORT: "Too short.",
    CONTROL_CHARACTERS: "Remove the line breaks and control characters.",
    INVALID_DATE: "Enter a real date (from 1900 on).",
    IN_FUTURE: "Cannot be in the future.",
    INVALID_NAME: "Use only letters, spaces, apostrophes, hyphens and dots.",
    DUPLICATE_CHANNEL: "Give one consent per channel.",
    INVALID_NATIONAL_ID: "Not a valid T.C. Kimlik No: 11 digits whose check digits add up. Read the number from the ID card again.",
    INVALID_PHONE: "Not a phone number (e.g. 0532 123 45 67).",
    INVALID_EMAIL: "Not an email address (e.g. name@example.com).",
    INVALID_LANGUAGE: "Choose Turkish or English.",
    INVALID_MEDICAL_RECORD_NUMBER: "Use 1–32 letters, digits, “-” or “/”.",
    UNKNOWN_ENUM_VALUE: "Choose one of the options.",
    TOO_MANY: "Too many entries.",
    INVALID_VALUE: "Check this value.",
    OUT_OF_RANGE: "Out of the allowed range.",
    INVALID_ID: "Not a valid id: letters, digits, “_” and “-” only (at most 64).",
    INVALID_REQUEST_ID: "The request was sent damaged. Reload the page and try again.",
    INVALID_PAGE_TOKEN: "The rest of these results can no longer be read. Search again.",
    UNKNOWN_PATH: "This cannot be changed here.",
    DUPLICATE_PATH: "The same detail was to be changed twice. Reload the page and try again.",
    QUERY_TOO_SHORT: "Type at least 3 letters of a name (a word of at least 2).",
    TOO_MANY_WORDS: "Search with fewer words.",
    NO_CRITERIA: "Give a name (at least 3 letters), a date of birth, a phone, a T.C. Kimlik No or a medical record number.",
    SAME_PATIENT: "A record cannot be merged into itself: choose two different patients.",
    INVALID_LOCAL_DATE: "Enter a real date.",
    NOT_WHOLE_MINUTE: "Give a whole minute, without seconds.",
    TOO_PRECISE: "Give the time to the millisecond at most.",
  },
  reasons: {
    VERSION_MISMATCH: {
      title: "Your details were changed elsewhere meanwhile, so your change was not saved.",
      action: "Reload to see them as they are now, then make your change again.",
    },
    NATIONAL_ID_IN_USE: { title: "A patient with this T.C. Kimlik No is already registered.", action: "Find them with the search instead of registering them again.", field: "nationalId" },
    MEDICAL_RECORD_NUMBER_IN_USE: { title: "Another patient at this location has this medical record number.", action: "Check the number, or leave it empty.", field: "medicalRecordNumber" },
    PATIENT_ID_IN_USE: { title: "Another record already has this patient id.", action: "Choose another id, or leave it empty." },
    NOT_CHANGEABLE_BY_PATIENT: { title: "Only the clinic can change this.", action: "You can change your phones, email, language and consents; ask the clinic for the rest." },
    PATIENT_NOT_FOUND: { title: "This patient record does not exist.", action: "Search for the patient again." },
    PATIENT_MERGED: { title: "This record was merged into another one.", action: "Search for the patient again." },
    ACCESS_REASON_REQUIRED: { title: "This patient is registered at another location.", action: "To open the record, say why you need it. The reason for access is recorded." },
    LOCATION_NOT_FOUND: { title: "The registering location does not exist.", action: "Ask your administrator." },
    REQUEST_IN_PROGRESS: { title: "This is still being done.", action: "Wait a moment, then look again." },
    REQUEST_ID_REUSED: { title: "This action was already sent with other values.", action: "Reload the page and do it again." },
    OWN_RECORDS_ONLY: { title: "You can see and change only your own record.", action: "Sign in with your own account." },
    ROLE_NOT_ALLOWED: { title: "This is not allowed for your role.", action: "Sign in with a role that may do this." },
  },
  codes: {
    InvalidArgument: { title: "The details were not accepted.", action: "Correct the marked fields." },
    AlreadyExists: { title: "A patient with these details is already registered.", action: "Find them with the search." },
    Aborted: { title: "The record changed meanwhile.", action: "Reload and try again." },
    NotFound: { title: "Not found.", action: "Search for the patient again." },
    PermissionDenied: { title: "This is not allowed for your role.", action: "Sign in with a role that may do this." },
    Unauthenticated: { title: "You are not signed in, or your sign-in expired.", action: "Sign in again (Switch user, top right)." },
    Unavailable: { title: "The patient directory cannot be reached right now.", action: "Press Retry in a moment." },
    DeadlineExceeded: { title: "This took too long.", action: "Press Retry." },
    Unimplemented: { title: "This is not available on this server yet.", action: "Ask your administrator." },
    ResourceExhausted: { title: "Too many requests from this browser.", action: "Wait a few seconds, then try again." },
    FailedPrecondition: { title: "This is not possible now.", action: "Refresh and try again." },
    default: { title: "That did not work.", action: "Try again; if it keeps failing, tell your administrator." },
  },
};

/**
 * languageName names a BCP 47 tag in `lang` for a language select: the dictionary's words for "tr"
 * and "en", the browser's own (Intl.DisplayNames) for any other tag, the tag itself when neither knows it.
 */
export function languageName(tag: string, lang: Lang): string {
  const w = text(lang);
  if (tag === "tr" || tag === "en") return w.languages[tag];
  try {
    const name = new Intl.DisplayNames([lang], { type: "language", fallback: "none" }).of(tag);
    return name && name.toLowerCase() !== tag.toLowerCase() ? name : tag;
  } catch {
    return tag;
  }
}

/** screenLabel names a screen in the navigation: the patient screens in `lang`, the others as they are (English). */
export function screenLabel(screen: { path: string; label: string }, lang: Lang): string {
  const w = text(lang);
  return screen.path === "/patients" ? w.screenPatients : screen.path === "/me" ? w.screenMyDetails : screen.label;
}

/** PATIENT_TEXT holds both dictionaries. */
export const PATIENT_TEXT: Readonly<Record<Lang, PatientText>> = { tr: TR, en: EN };

/** text is the dictionary of `lang`. */
export function text(lang: Lang): PatientText {
  return PATIENT_TEXT[lang];
}

/** PatientExplained is a patient service error in the screen's language, with field errors per request field. */
export interface PatientExplained extends Explained {
  /** field is the request field a domain error is about (a taken national id), when it has an input. */
  field?: string;
}

/**
 * explainPatientError words an error of the patient service in `lang`: each field violation by its
 * reason (a generic "check this value" when the reason is unknown here), domain errors by their
 * ErrorInfo reason, the rest by status code. The server's own English message and the reason code
 * are left out (no "Technical details" on the patient screens: staff act on the words; operators
 * read the server's logs), so nothing untranslated reaches the screen.
 */
export function explainPatientError(err: unknown, lang: Lang): PatientExplained {
  const base = explainError(err);
  const w = text(lang);
  const fields: Record<string, string> = {};
  const violations = ConnectError.from(err)
    .findDetails(BadRequestSchema)
    .flatMap((b) => b.fieldViolations);
  for (const v of violations) {
    const key = topField(v.field);
    const said = w.fieldReasons[v.reason] ?? w.fieldReasons.INVALID_VALUE;
    fields[key] = fields[key] ? `${fields[key]} ${said}` : said;
  }
  const known = base.reason ? w.reasons[base.reason] : undefined;
  if (known) {
    // The field a domain error is about: the server's metadata names it, else the reason implies it.
    const info = ConnectError.from(err)
      .findDetails(ErrorInfoSchema)
      .find((i) => i.reason === base.reason);
    const field = info?.metadata.field ? topField(info.metadata.field) : known.field;
    if (field) fields[field] = known.title;
    return { ...base, detail: "", title: known.title, action: known.action, fields, field };
  }
  const code = violations.length ? w.codes.InvalidArgument : (w.codes[base.code] ?? w.codes.default);
  return { ...base, detail: "", title: code.title, action: code.action, fields };
}

/** topField maps "phones[0]" or "patient.phones[1]" to the name of the input that shows it ("phones"). */
function topField(path: string): string {
  return path.replace(/^patient\./, "").replace(/\[\d+\]$/, "");
}
