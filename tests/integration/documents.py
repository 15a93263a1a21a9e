"""The GraphQL documents of the recordings API that integration tests send."""

AUDIO_Q = """query($id: ID!, $v: Int) {
  audio(id: $id, atVersion: $v) { id version transcriptText }
}"""
LIST_Q = """query(
  $search: String, $status: TranscriptionStatus, $skip: Int! = 0, $limit: Int! = 100
) {
  audios(search: $search, status: $status, skip: $skip, limit: $limit) {
    total skip limit items { id ownerId version transcriptText }
  }
}"""
UPDATE_M = """mutation($id: ID!, $text: String, $v: Int) {
  updateAudio(id: $id, input: {transcriptText: $text, expectedVersion: $v}) {
    __typename
    ... on Audio { id version transcriptText }
    ... on Error { code message }
    ... on VersionConflict { expectedVersion currentVersion }
  }
}"""
EDIT_M = """mutation($id: ID!, $input: AudioUpdateInput!) {
  updateAudio(id: $id, input: $input) {
    __typename ... on Error { code message } ... on Audio { version transcriptText }
  }
}"""
DELETE_M = """mutation($id: ID!) {
  deleteAudio(id: $id) { __typename ... on DeletedAudio { id } ... on Error { code message } }
}"""
UPLOAD_M = """mutation($file: Upload!) {
  uploadAudio(file: $file) {
    __typename
    ... on Audio { id durationSeconds sizeBytes status }
    ... on Error { code message }
    ... on InvalidAudio { reason }
    ... on QuotaExceeded { quota limit used requested }
  }
}"""
