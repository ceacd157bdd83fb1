/** Role is one of the roles a token's `roles` claim may carry. */
export type Role = "patient" | "receptionist" | "doctor" | "display" | "admin" | "service";

/** ROLES lists every role, in DESIGN.md's column order. */
export const ROLES: readonly Role[] = ["patient", "receptionist", "doctor", "display", "admin", "service"];

/**
 * Grant is how a role may call an RPC: "yes", or "own" — only for the caller's own records. With
 * `ownerField`, the interceptor checks that request field equals the token's subject; without, the
 * handler checks ownership of the record it loads.
 */
export type Grant = "yes" | { own: true; ownerField?: string };

/** RpcRule is the row of the role table for one RPC. */
export type RpcRule = Partial<Record<Role, Grant>>;

const S = "medschedule.scheduling.v1.SchedulingService";
const Q = "medschedule.queue.v1.QueueService";
const L = "medschedule.lock.v1.LockService";
const B = "medschedule.backup.v1.BackupService";
const P = "medschedule.patient.v1.PatientService";

const own = (ownerField?: string): Grant => ({ own: true, ownerField });

function rows(service: string, methods: string[], rule: RpcRule): [string, RpcRule][] {
  return methods.map((m) => [`${service}/${m}`, rule]);
}

/**
 * ROLE_TABLE is DESIGN.md section 5's "who may call what", one row per RPC, keyed by
 * "package.Service/Method". The auth interceptor enforces it for every call on both servers; an RPC
 * missing here is denied to everyone. Handlers narrow some grants further: a patient's own
 * IssueTicket is ROUTINE only, and only the service role (scheduling's check-in) issues a ticket that
 * names an appointment, its time or the APPOINTMENT class.
 */
export const ROLE_TABLE: ReadonlyMap<string, RpcRule> = new Map<string, RpcRule>([
  // provider/resource/slot reads
  ...rows(S, ["GetProvider", "ListProviders", "ListResources", "GetAvailability", "ListAvailableSlots"], {
    patient: "yes", receptionist: "yes", doctor: "yes", admin: "yes", service: "yes",
  }),
  ...rows(S, ["CreateProvider", "CreateResource"], { receptionist: "yes", admin: "yes", service: "yes" }),
  // Locations, visit types and slot search: readable by every role but display.
  ...rows(S, ["GetLocation", "ListLocations", "GetVisitType", "ListVisitTypes", "SearchSlots"], {
    patient: "yes", receptionist: "yes", doctor: "yes", admin: "yes", service: "yes",
  }),
  ...rows(S, ["CreateLocation", "UpdateLocation"], { admin: "yes" }),
  // A receptionist manages the visit types of their own locations (the handler checks the location).
  ...rows(S, ["CreateVisitType", "UpdateVisitType"], { receptionist: "yes", admin: "yes" }),
  ...rows(S, ["HoldSlot", "BookSeries"], { patient: own("patientId"), receptionist: "yes", admin: "yes", service: "yes" }),
  ...rows(S, ["CancelSeries"], { patient: own(), receptionist: "yes", admin: "yes", service: "yes" }),
  ...rows(S, ["SetAvailability"], { receptionist: "yes", doctor: own("providerId"), admin: "yes", service: "yes" }),
  ...rows(S, ["BookAppointment", "JoinWaitlist"], { patient: own("patientId"), receptionist: "yes", admin: "yes", service: "yes" }),
  ...rows(S, ["CancelAppointment", "RescheduleAppointment", "AcceptOffer"], { patient: own(), receptionist: "yes", admin: "yes", service: "yes" }),
  ...rows(S, ["GetAppointment"], { patient: own(), receptionist: "yes", doctor: own(), admin: "yes", service: "yes" }),
  // A patient watching a provider's day sees only their own appointments in it (the handler filters).
  ...rows(S, ["WatchAppointments"], { patient: own(), receptionist: "yes", doctor: own("providerId"), admin: "yes", service: "yes" }),
  ...rows(S, ["ListAppointments"], { patient: own("patientId"), receptionist: "yes", doctor: own("providerId"), admin: "yes", service: "yes" }),
  // A patient checks in for their own appointment (the handler checks whose it is), into its provider's queue.
  ...rows(S, ["CheckInAppointment"], { patient: own(), receptionist: "yes", doctor: own(), admin: "yes", service: "yes" }),
  ...rows(S, ["MarkNoShow", "CompleteAppointment"], { receptionist: "yes", doctor: own(), admin: "yes", service: "yes" }),
  ...rows(Q, ["IssueTicket"], { patient: own("patientId"), receptionist: "yes", admin: "yes", service: "yes" }),
  ...rows(Q, ["GetTicket"], { patient: own(), receptionist: "yes", doctor: "yes", admin: "yes", service: "yes" }),
  ...rows(Q, ["ListTickets", "WatchQueue", "GetQueue", "ListQueues"], {
    patient: "yes", receptionist: "yes", doctor: "yes", display: "yes", admin: "yes", service: "yes",
  }),
  ...rows(Q, ["CreateQueue", "OpenCounter", "CloseCounter", "CallNext", "RecallTicket", "SkipTicket", "MarkTicketNoShow", "TransferTicket", "CompleteTicket", "CancelTicket"], {
    receptionist: "yes", doctor: "yes", admin: "yes", service: "yes",
  }),
  ...rows(L, ["Acquire", "Release", "Extend", "ListLocks"], { admin: "yes", service: "yes" }),
  ...rows(L, ["ForceRelease"], { admin: "yes" }),
  ...rows(L, ["AdvanceEpoch"], { service: "yes" }),
  ...rows(B, ["GetBackup", "ListBackups", "StartBackup", "VerifyBackup", "PruneBackups"], { admin: "yes", service: "yes" }),
  ...rows(B, ["RestoreBackup"], { admin: "yes" }),
  // Patients: staff within their locations (outside them with an accessReason; the handler checks),
  // a patient their own record (and changes only contacts, language and consents), display never,
  // the service role only ResolvePatient and the one contact read of notifications.
  ...rows(P, ["CreatePatient"], { receptionist: "yes", doctor: "yes", admin: "yes" }),
  ...rows(P, ["GetPatient"], { patient: own("patientId"), receptionist: "yes", doctor: "yes", admin: "yes" }),
  ...rows(P, ["UpdatePatient"], { patient: own(), receptionist: "yes", doctor: "yes", admin: "yes" }),
  ...rows(P, ["SearchPatients"], { receptionist: "yes", doctor: "yes", admin: "yes" }),
  ...rows(P, ["MergePatients"], { receptionist: "yes", admin: "yes" }),
  ...rows(P, ["ResolvePatient", "GetContactDetails"], { service: "yes" }),
  // A merge's reassignment, called by the patient service only.
  ...rows(S, ["ReassignPatient"], { service: "yes" }),
  ...rows(Q, ["ReassignPatient"], { service: "yes" }),
]);

/** RoleWords name a role in a sentence: one holder ("a doctor") and all of them ("doctors"). */
export interface RoleWords {
  /** one is a single holder, with its article. */
  one: string;
  /** many are the holders as a group. */
  many: string;
}

/** ROLE_WORDS name each role in the messages of refused calls. */
export const ROLE_WORDS: Readonly<Record<Role, RoleWords>> = {
  patient: { one: "a patient", many: "patients" },
  receptionist: { one: "a receptionist", many: "reception staff" },
  doctor: { one: "a doctor", many: "doctors" },
  display: { one: "a display board", many: "display boards" },
  admin: { one: "an administrator", many: "administrators" },
  service: { one: "a service", many: "the services themselves" },
};

const actions = (service: string, byMethod: Record<string, string>): [string, string][] => Object.entries(byMethod).map(([m, a]) => [`${service}/${m}`, a]);

/**
 * RPC_ACTIONS says what each RPC of ROLE_TABLE does, in words that follow "may not" ("a doctor may
 * not issue queue tickets"): a refused call is explained by what it does and who does that, never by
 * its RPC name (the auth interceptor builds the sentence; the RPC name goes to ErrorInfo metadata).
 */
export const RPC_ACTIONS: ReadonlyMap<string, string> = new Map([
  ...actions(S, {
    GetProvider: "look up a provider",
    ListProviders: "list the providers",
    ListResources: "list the rooms and devices",
    GetAvailability: "see a provider's working hours",
    ListAvailableSlots: "look up free appointment times",
    CreateProvider: "add providers",
    CreateResource: "add rooms and devices",
    GetLocation: "look up a location",
    ListLocations: "list the locations",
    CreateLocation: "add locations",
    UpdateLocation: "change locations",
    GetVisitType: "look up a visit type",
    ListVisitTypes: "list the visit types",
    CreateVisitType: "add visit types",
    UpdateVisitType: "change visit types",
    SearchSlots: "search free appointment times",
    HoldSlot: "hold appointment times",
    BookSeries: "book recurring appointments",
    CancelSeries: "cancel recurring appointments",
    SetAvailability: "set working hours",
    BookAppointment: "book appointments",
    JoinWaitlist: "put patients on a waitlist",
    CancelAppointment: "cancel appointments",
    RescheduleAppointment: "move appointments",
    AcceptOffer: "accept waitlist offers",
    GetAppointment: "look up appointments",
    WatchAppointments: "follow a provider's appointments live",
    ListAppointments: "list appointments",
    CheckInAppointment: "check patients in",
    MarkNoShow: "mark appointments as no-shows",
    CompleteAppointment: "mark appointments as completed",
    ReassignPatient: "move a merged patient's appointments",
  }),
  ...actions(Q, {
    IssueTicket: "issue queue tickets",
    GetTicket: "look up queue tickets",
    ListTickets: "list the tickets of a queue",
    WatchQueue: "follow a queue live",
    GetQueue: "look up a queue",
    ListQueues: "list the queues",
    CreateQueue: "create queues",
    OpenCounter: "open counters",
    CloseCounter: "close counters",
    CallNext: "call the next patient",
    RecallTicket: "call a patient again",
    SkipTicket: "put a called patient back in line",
    MarkTicketNoShow: "mark queue tickets as no-shows",
    TransferTicket: "move tickets to another queue",
    CompleteTicket: "complete queue tickets",
    CancelTicket: "cancel queue tickets",
    ReassignPatient: "move a merged patient's tickets",
  }),
  ...actions(L, {
    Acquire: "take locks",
    Release: "release locks",
    Extend: "extend locks",
    ListLocks: "list the locks",
    ForceRelease: "force-release locks",
    AdvanceEpoch: "advance the fencing epoch",
  }),
  ...actions(B, {
    GetBackup: "look up backups",
    ListBackups: "list the backups",
    StartBackup: "start backups",
    VerifyBackup: "verify backups",
    PruneBackups: "delete old backups",
    RestoreBackup: "restore backups",
  }),
  ...actions(P, {
    CreatePatient: "register patients",
    GetPatient: "look up patient records",
    UpdatePatient: "change patient records",
    SearchPatients: "search the patient directory",
    MergePatients: "merge patient records",
    ResolvePatient: "check patient ids",
    GetContactDetails: "read patients' contact details",
  }),
]);

/** PUBLIC_SERVICES need no token: health and reflection. */
export const PUBLIC_SERVICES: ReadonlySet<string> = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);
