"""The official COC SDK's models for the incident API, written down once as data.

Taken from huaweicloud-sdk-go-v3 ``services/coc/v1/model`` (our copy of the field list:
``coc-sdk-models.md`` in the shared reference). Each model maps a JSON field to
``(SDK type, required)``; a type is ``string``, ``int32``/``int64``, ``bool``,
``interface{}``, ``[]T``, ``map[string]T``, an enum in ``SDK_ENUMS`` or another model.
``DOC_MODELS`` describe the ``data`` that the SDK types as bare ``interface{}``: their shape
comes from COC's API reference and the Terraform provider, plus the keys opsdesk adds.
"""

from __future__ import annotations

from typing import Final

Field = tuple[str, bool]  # (SDK type, required)

SDK_MODELS: Final[dict[str, dict[str, Field]]] = {
    # model_create_external_incident_request.go
    "CreateExternalIncidentRequest": {
        "region": ("[]string", False),
        "enterprise_project": ("[]string", False),
        "current_cloud_service": ("[]string", False),
        "incident_level": ("string", True),
        "is_service_interrupt": ("string", True),
        "incident_type": ("string", True),
        "incident_title": ("string", True),
        "incident_description": ("string", False),
        "incident_source": ("string", True),
        "incident_assignee": ("[]string", False),
        "assignee_scene": ("string", False),
        "assignee_role": ("string", False),
        "creator": ("string", True),
        "incident_ownership": ("string", False),
        "start_time": ("int64", False),
    },
    # model_create_coc_incident_response.go
    "CreateCocIncidentResponse": {
        "provider_code": ("string", True),
        "error_code": ("string", True),
        "error_msg": ("string", False),
        "data": ("CreateExternalIncidentResponseData", False),
    },
    # model_create_external_incident_response_data.go
    "CreateExternalIncidentResponseData": {
        "incident_num": ("string", True),
    },
    # model_show_coc_incident_detail_request.go
    "ShowCocIncidentDetailRequest": {
        "incident_num": ("string", True),
    },
    # model_show_coc_incident_detail_response.go
    "ShowCocIncidentDetailResponse": {
        "provider_code": ("string", True),
        "error_code": ("string", True),
        "error_msg": ("string", False),
        "data": ("IncidentTicketInfoResponseData", False),
    },
    # model_incident_ticket_info_response_data.go
    "IncidentTicketInfoResponseData": {
        "incident_num": ("string", False),
        "region": ("[]string", False),
        "enterprise_project": ("[]string", False),
        "current_cloud_service": ("[]string", False),
        "incident_level": ("string", False),
        "is_service_interrupt": ("bool", False),
        "start_time": ("int64", False),
        "fault_recovery_time": ("int64", False),
        "fault_delineation_time": ("int64", False),
        "incident_ownership": ("string", False),
        "incident_type": ("string", False),
        "incident_title": ("string", False),
        "incident_description": ("string", False),
        "incident_source": ("string", False),
        "incident_assignee": ("[]string", False),
        "assignee_scene": ("string", False),
        "assignee_role": ("string", False),
        "warroom_id": ("string", False),
        "handle_time": ("int64", False),
        "status": ("string", False),
        "create_time": ("int64", False),
        "creator": ("string", False),
        "enum_data_list": ("[]TicketInfoEnumData", False),
    },
    # model_ticket_info_enum_data.go
    "TicketInfoEnumData": {
        "filed_key": ("string", True),
        "enum_key": ("string", True),
        "name_zh": ("string", True),
        "name_en": ("string", True),
    },
    # model_handle_external_incident_request.go
    "HandleExternalIncidentRequest": {
        "incident_num": ("string", True),
        "operator": ("string", True),
        "operate_key": ("string", True),
        "parameter": ("map[string]interface{}", False),
    },
    # model_handle_coc_incident_response.go
    "HandleCocIncidentResponse": {
        "provider_code": ("string", True),
        "error_code": ("string", True),
        "error_msg": ("string", False),
        "data": ("HandleExternalIncidentResponseData", False),
    },
    # model_create_external_coc_attachment_request_body.go
    "CreateExternalCocAttachmentRequestBody": {
        "file": ("def.FilePart", True),
    },
    # model_create_external_coc_attachment_response.go
    "CreateExternalCocAttachmentResponse": {
        "code": ("string", False),
        "provider_code": ("string", False),
        "msg": ("string", False),
        "data": ("ExternalAttachment", False),
    },
    # model_create_attachment_request.go
    "CreateAttachmentRequest": {
        "ticket_type": ("string", True),
        "body": ("CreateAttachmentRequestBody", False),
    },
    # model_create_attachment_request_body.go
    "CreateAttachmentRequestBody": {
        "file": ("def.FilePart", True),
    },
    # model_create_attachment_response.go
    "CreateAttachmentResponse": {
        "code": ("string", False),
        "provider_code": ("string", False),
        "msg": ("string", False),
        "data": ("ExternalAttachment", False),
        "name": ("string", False),
        "id": ("string", False),
    },
    # model_external_attachment.go
    "ExternalAttachment": {
        "doc_id": ("string", False),
        "doc_name": ("string", False),
    },
    # model_download_attachment_request.go
    "DownloadAttachmentRequest": {
        "ticket_type": ("string", True),
        "doc_id": ("string", True),
    },
    # model_download_attachment_response.go
    "DownloadAttachmentResponse": {
        "provider_code": ("string", False),
        "error_code": ("string", False),
        "error_msg": ("string", False),
    },
    # model_list_coc_ticket_operation_histories_request.go
    "ListCocTicketOperationHistoriesRequest": {
        "ticket_type": ("ListCocTicketOperationHistoriesRequestTicketType", True),
        "body": ("ListTicketParams", False),
    },
    # model_list_ticket_params.go
    "ListTicketParams": {
        "string_filters": ("[]ObjectFilter", False),
        "sort_filter": ("ObjectFilter", False),
    },
    # model_object_filter.go
    "ObjectFilter": {
        "name": ("string", False),
        "operator": ("string", False),
        "field": ("string", False),
        "values": ("[]string", False),
    },
    # model_list_coc_ticket_operation_histories_response.go
    "ListCocTicketOperationHistoriesResponse": {
        "provider_code": ("string", True),
        "error_code": ("string", True),
        "error_msg": ("string", False),
        "data": ("interface{}", False),
    },
    # model_ticket_history_info.go
    "TicketHistoryInfo": {
        "action_id": ("string", False),
        "action": ("string", False),
        "sub_action": ("string", False),
        "operator": ("string", False),
        "comment": ("string", False),
        "id": ("string", False),
        "ticket_id": ("string", False),
        "start_time": ("int64", False),
        "stop_time": ("int64", False),
        "target_type": ("string", False),
        "target_value": ("string", False),
        "is_deteted": ("bool", False),
        "update_time": ("int64", False),
        "action_name_zh": ("string", False),
        "action_name_en": ("string", False),
        "action_template_zh": ("string", False),
        "action_template_en": ("string", False),
        "status": ("string", False),
        "final_sub_action": ("string", False),
        "enum_data_list": ("[]EnumDataInfo", False),
    },
    # model_enum_data_info.go
    "EnumDataInfo": {
        "is_deleted": ("bool", False),
        "match_type": ("string", False),
        "ticket_id": ("string", False),
        "real_ticket_id": ("string", False),
        "name_zh": ("string", False),
        "name_en": ("string", False),
        "user_name": ("string", False),
        "biz_id": ("string", False),
        "prop_id": ("string", False),
        "model_id": ("string", False),
    },
    # model_list_incident_simple_tickets_request.go
    "ListIncidentSimpleTicketsRequest": {
        "offset": ("int32", False),
        "limit": ("int32", False),
    },
    # model_list_incident_simple_tickets_response.go
    "ListIncidentSimpleTicketsResponse": {
        "provider_code": ("string", True),
        "error_code": ("string", True),
        "error_msg": ("string", False),
        "data": ("interface{}", False),
    },
    # model_incident_simple_ticket_info.go
    "IncidentSimpleTicketInfo": {
        "title": ("string", False),
        "ticket_id": ("string", False),
        "description": ("string", False),
        "status": ("string", False),
        "level": ("string", False),
        "enterprise_project": ("string", False),
        "source": ("string", False),
        "creator": ("string", False),
        "assignee": ("[]string", False),
    },
    # model_list_incidents_request.go
    "ListIncidentsRequest": {
        "body": ("ListTicketParamsWithPageV2", False),
    },
    # model_list_ticket_params_with_page_v2.go
    "ListTicketParamsWithPageV2": {
        "fields": ("[]string", False),
        "count_filters": ("[]ListTicketParamsV2CountFilters", False),
        "string_filters": ("[]ObjectFilterV2", False),
        "group_by_filter": ("ObjectFilterV2", False),
        "int_filters": ("[]ObjectFilterV2", False),
        "sort_filter": ("ObjectFilterV2", False),
        "condition": ("string", False),
        "page": ("int32", False),
        "per_page": ("int32", False),
        "contain_all": ("bool", False),
        "contain_total": ("bool", False),
        "contain_sub_ticket": ("bool", False),
        "ticket_types": ("[]string", False),
    },
    # model_list_ticket_params_v2_count_filters.go
    "ListTicketParamsV2CountFilters": {
        "name": ("string", False),
        "filters": ("[]ObjectFilterV2", False),
    },
    # model_object_filter_v2.go
    "ObjectFilterV2": {
        "operator": ("string", True),
        "field": ("string", True),
        "group": ("string", False),
        "name": ("string", False),
        "match_type": ("string", False),
        "priority_type": ("string", False),
        "values": ("[]interface{}", True),
    },
    # model_list_incidents_response.go
    "ListIncidentsResponse": {
        "provider_code": ("string", True),
        "error_code": ("string", True),
        "error_msg": ("string", False),
        "data": ("interface{}", False),
    },
    # model_coc_incident_data_v2.go
    "CocIncidentDataV2": {
        "current_cloud_service_id": ("string", False),
        "level_id": ("string", False),
        "mtm_region": ("string", False),
        "source_id": ("string", False),
        "forward_rule_id": ("string", False),
        "enterprise_project_id": ("string", False),
        "mtm_type": ("string", False),
        "title": ("string", False),
        "description": ("string", False),
        "ticket_id": ("string", False),
        "is_service_interrupt": ("string", False),
        "work_flow_status": ("string", False),
        "phase": ("string", False),
        "assignee": ("string", False),
        "creator": ("string", False),
        "operator": ("string", False),
        "update_time": ("string", False),
        "create_time": ("string", False),
        "start_time": ("string", False),
        "handle_time": ("string", False),
        "incident_ownership": ("string", False),
        "enum_data_list": ("[]CocTicketInfoEnumDataV2", False),
    },
    # model_coc_ticket_info_enum_data_v2.go
    "CocTicketInfoEnumDataV2": {
        "prop_id": ("string", False),
        "biz_id": ("string", False),
        "name_zh": ("string", True),
        "name_en": ("string", True),
    },
    # model_list_incidents_histories_request.go
    "ListIncidentsHistoriesRequest": {
        "incident_id": ("string", True),
        "body": ("ListTicketParamsV2", False),
    },
    # model_list_ticket_params_v2.go
    "ListTicketParamsV2": {
        "fields": ("[]string", False),
        "count_filters": ("[]ListTicketParamsV2CountFilters", False),
        "string_filters": ("[]ObjectFilterV2", False),
        "group_by_filter": ("ObjectFilterV2", False),
        "int_filters": ("[]ObjectFilterV2", False),
        "sort_filter": ("ObjectFilterV2", False),
        "condition": ("string", False),
    },
    # model_list_incidents_histories_response.go
    "ListIncidentsHistoriesResponse": {
        "provider_code": ("string", True),
        "error_code": ("string", True),
        "error_msg": ("string", False),
        "data": ("CocListHistoryResponseDataV2", False),
    },
    # model_coc_list_history_response_data_v2.go
    "CocListHistoryResponseDataV2": {
        "total": ("int64", False),
        "info": ("[]CocTicketHistoryBaseInfoV2", False),
    },
    # model_coc_ticket_history_base_info_v2.go
    "CocTicketHistoryBaseInfoV2": {
        "action": ("string", False),
        "action_name_zh": ("string", False),
        "action_name_en": ("string", False),
        "operator": ("string", False),
        "status": ("string", False),
        "start_time": ("string", False),
        "stop_time": ("string", False),
        "comment": ("string", False),
        "enum_data_list": ("[]CocTicketEnumDataV2", False),
    },
    # model_coc_ticket_enum_data_v2.go
    "CocTicketEnumDataV2": {
        "prop_id": ("string", False),
        "biz_id": ("string", False),
        "name_zh": ("string", False),
        "name_en": ("string", False),
    },
    # model_show_incident_task_request.go
    "ShowIncidentTaskRequest": {
        "incident_id": ("string", True),
    },
    # model_show_incident_task_response.go
    "ShowIncidentTaskResponse": {
        "provider_code": ("string", True),
        "error_code": ("string", True),
        "error_msg": ("string", False),
        "data": ("[]CocTaskDetailV2", False),
    },
    # model_coc_task_detail_v2.go
    "CocTaskDetailV2": {
        "type": ("string", False),
        "key": ("string", False),
        "name": ("string", False),
        "state": ("string", False),
        "operations": ("[]CocTaskOperationDetailV2", False),
    },
    # model_coc_task_operation_detail_v2.go
    "CocTaskOperationDetailV2": {
        "task_id": ("string", False),
        "key": ("string", False),
    },
    # model_handle_incident_request.go
    "HandleIncidentRequest": {
        "incident_id": ("string", True),
        "body": ("ExecuteActionParamsV2", False),
    },
    # model_execute_action_params_v2.go
    "ExecuteActionParamsV2": {
        "task_id": ("string", True),
        "action": ("string", True),
        "params": ("interface{}", False),
    },
    # model_handle_incident_response.go
    "HandleIncidentResponse": {
        "provider_code": ("string", False),
        "error_code": ("string", False),
        "error_msg": ("string", False),
    },
    # model_create_coc_incident_request.go
    "CreateCocIncidentRequest": {
        "body": ("CreateExternalIncidentRequest", False),
    },
    # model_handle_coc_incident_request.go
    "HandleCocIncidentRequest": {
        "body": ("HandleExternalIncidentRequest", False),
    },
    # model_create_external_coc_attachment_request.go
    "CreateExternalCocAttachmentRequest": {
        "body": ("CreateExternalCocAttachmentRequestBody", False),
    },
    # model_handle_external_incident_response_data.go: a struct without fields.
    "HandleExternalIncidentResponseData": {},
}

SDK_ENUMS: Final[dict[str, frozenset[str]]] = {
    "ListCocTicketOperationHistoriesRequestTicketType": frozenset({"incident", "issues_mgmt"}),
}

DOC_MODELS: Final[dict[str, dict[str, Field]]] = {
    # ListIncidents' data (coc-api.md 3.4): Terraform reads data.tickets; total is inferred.
    "ListIncidentsData": {
        "tickets": ("[]CocIncidentDataV2", True),
        "total": ("int64", False),
        # opsdesk's answers to group_by_filter and count_filters (COC's shape is unknown).
        "group_by": ("[]GroupCount", False),
        "counts": ("map[string]int64", False),
    },
    "GroupCount": {
        "value": ("interface{}", False),
        "count": ("int64", True),
    },
    # ListIncidentSimpleTickets' data (coc-api.md 3.5, COC's casing).
    "ListIncidentSimpleTicketsData": {
        "total": ("int64", False),
        "IncidentSimpleTicketInfos": ("[]IncidentSimpleTicketInfo", False),
    },
    # ListCocTicketOperationHistories' data (coc-api.md 3.10): Terraform reads data.info;
    # total is opsdesk's, as on the v2 histories.
    "ListCocTicketOperationHistoriesData": {
        "info": ("[]TicketHistoryInfo", True),
        "total": ("int64", False),
    },
}

MODELS: Final[dict[str, dict[str, Field]]] = {**SDK_MODELS, **DOC_MODELS}
